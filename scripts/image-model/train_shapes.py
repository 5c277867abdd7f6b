"""Train the `shapes` image classifier and write its version directory.

Generates its own data (scripts/image-model/render_shapes.py, no downloads):
scenes with one shape (six classes) or with none or several (the reject
class "other"), letterboxed to the model's input as the server does. Trains
a small CNN with PyTorch on CPU, checks it on a held-out set drawn with a
different seed, calibrates the reject threshold there, and writes:

    models/shapes/2/model.onnx     input `image` [N,3,64,64] -> `probabilities` [N,7]
    models/shapes/2/metrics.json   held-out figures, seeds, environment, model hash

It reads, and never writes, the serving settings a person chose:
models/shapes/config.json (input size, letterbox colour, mean/std, reject
label) and labels.txt. scripts/image-model/evaluate-shapes.ts then adds the
robustness figures to metrics.json, and MODEL_CARD.md quotes both.

Run (Debian 12 packages, no pip):
    apt-get install -y python3-torch python3-onnx python3-numpy python3-pil
    /usr/bin/python3 scripts/image-model/train_shapes.py
SHAPES_MODEL_DIR=/some/copy/of/models/shapes writes there instead (the
retrain check uses it).
"""

import os

# Two OpenMP threads that sleep instead of spinning when they wait: on a shared
# 2-core machine spinning threads slow training down several-fold.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render_shapes  # noqa: E402
from render_shapes import LABELS  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_DIR = os.environ.get("SHAPES_MODEL_DIR") or os.path.join(REPO, "models", "shapes")
VERSION = "2"

SEED = 20261206            # training images, weight init, batch order
VAL_SEED = 4242017         # held-out images: a different seed, so different images
TRAIN_PER_LABEL = 4000
VAL_PER_LABEL = 500
# Calibration: the reject threshold is the score below which at most this share
# of held-out in-range images fall.
IN_RANGE_REJECT_BUDGET = 0.01

EPOCHS = 10
BATCH = 64
LR = 4e-3
WEIGHT_DECAY = 1e-4
LABEL_SMOOTHING = 0.05
THREADS = 2


def serving_settings():
    """The serving settings a person set in config.json: training reads them, never writes them."""
    with open(os.path.join(MODEL_DIR, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(MODEL_DIR, config["labels_file"])) as f:
        labels = [line.strip() for line in f if line.strip()]
    if labels != LABELS:
        sys.exit(f"labels.txt lists {labels}, the renderer draws {LABELS}: change them together")
    pre = config["preprocessing"]["image"]
    if pre["resize"] != "contain" or pre["width"] != pre["height"]:
        sys.exit("config.json: this model is trained on square letterboxed inputs (resize \"contain\")")
    return config, pre


PRE = None  # set in main before the worker processes fork


def draw_sample(args):
    seed, index = args
    rng = np.random.default_rng([seed, index])
    img, shown = render_shapes.render(LABELS[index % len(LABELS)], rng)
    return render_shapes.letterbox(img, PRE["width"], PRE["pad_rgb"]), LABELS.index(shown)


def make_dataset(seed, count):
    """(count, S, S, 3) uint8 letterboxed images and labels; sample i depends only on (seed, i)."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(THREADS) as pool:
        out = pool.map(draw_sample, [(seed, i) for i in range(count)], chunksize=200)
    return np.stack([o[0] for o in out]), np.array([o[1] for o in out], dtype=np.int64)


def build_model(nn):
    class ShapesNet(nn.Module):
        """Normalised 64x64 RGB -> logits."""

        def __init__(self):
            super().__init__()

            def block(cin, cout, stride=1):
                return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                        nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

            self.features = nn.Sequential(
                *block(3, 16, stride=2),                # 64 -> 32
                *block(16, 32), nn.MaxPool2d(2),        # 32 -> 16
                *block(32, 48), nn.MaxPool2d(2),        # 16 -> 8
                *block(48, 96), nn.MaxPool2d(2),        # 8 -> 4
                *block(96, 96),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            )
            self.classifier = nn.Linear(96, len(LABELS))

        def forward(self, x):
            return self.classifier(self.features(x))

    return ShapesNet()


def main():
    global PRE
    t_start = time.time()
    random.seed(SEED)
    np.random.seed(SEED)
    config, PRE = serving_settings()
    n_train, n_val = TRAIN_PER_LABEL * len(LABELS), VAL_PER_LABEL * len(LABELS)

    print(f"generating {n_train} training images (seed {SEED}) and {n_val} held-out images "
          f"(seed {VAL_SEED}) ...", flush=True)
    train_x, train_y = make_dataset(SEED, n_train)
    val_x, val_y = make_dataset(VAL_SEED, n_val)
    t_data = time.time() - t_start
    print(f"  done in {t_data:.1f}s", flush=True)

    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)

    mean_t = torch.tensor(PRE["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(PRE["std"], dtype=torch.float32).view(1, 3, 1, 1)

    def to_tensor(images):
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(PRE["scale"])
        return (x - mean_t) / std_t

    xtr, ytr = to_tensor(train_x), torch.from_numpy(train_y)
    xte, yte = to_tensor(val_x), torch.from_numpy(val_y)
    del train_x

    model = build_model(nn)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = math.ceil(len(xtr) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, epochs=EPOCHS, steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)

    t_train = time.time()
    for epoch in range(1, EPOCHS + 1):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for b in range(steps_per_epoch):
            idx = order[b * BATCH:(b + 1) * BATCH]
            xb, yb = xtr[idx], ytr[idx]
            # Mirror images and quarter turns show the same shapes: free variety.
            if torch.rand(1, generator=gen).item() < 0.5:
                xb = torch.flip(xb, dims=[3])
            turns = int(torch.randint(0, 4, (1,), generator=gen).item())
            if turns:
                xb = torch.rot90(xb, turns, dims=[2, 3])
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            total += len(idx)
        print(f"epoch {epoch:2d}/{EPOCHS}  loss {loss_sum / total:.4f}  train_acc {correct / total:.4f}  "
              f"({time.time() - t_train:.0f}s)", flush=True)
    train_seconds = time.time() - t_train

    model.eval()
    with torch.no_grad():
        probs = torch.cat([torch.softmax(model(xte[i:i + 256]), 1) for i in range(0, len(xte), 256)])
    ev = evaluate(probs.numpy(), yte.numpy(), config["reject"]["label"])
    print(json.dumps(ev, indent=1))

    class Exported(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, image):
            return torch.softmax(self.net(image), dim=1)

    vdir = os.path.join(MODEL_DIR, VERSION)
    os.makedirs(vdir, exist_ok=True)
    onnx_path = os.path.join(vdir, "model.onnx")
    torch.onnx.export(
        Exported(model).eval(), xte[:2], onnx_path, opset_version=13, do_constant_folding=True,
        input_names=["image"], output_names=["probabilities"],
        dynamic_axes={"image": {0: "N"}, "probabilities": {0: "N"}},
    )
    import onnx

    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    m.producer_name = "scripts/image-model/train_shapes.py"
    m.doc_string = f"shapes v{VERSION}: geometric-shape classifier with a reject class; see MODEL_CARD.md"
    onnx.save(m, onnx_path)
    with open(onnx_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    total_seconds = time.time() - t_start
    env = environment(torch, onnx)
    metrics = {
        "version": VERSION,
        **{k: v for k, v in ev.items() if not isinstance(v, (dict, list))},
        "per_label_accuracy": ev["per_label_accuracy"],
        "confusion": {"labels": LABELS, "rows_true_cols_predicted": ev["confusion"]},
        "train_samples": n_train,
        "val_samples": n_val,
        "seed": SEED,
        "val_seed": VAL_SEED,
        "model_sha256": sha,
        "parameters": n_params,
        "environment": env,
        # Wall-clock, for the card; differs run to run (the retrain check ignores it).
        "timing": {"images_seconds": round(t_data), "train_seconds": round(train_seconds),
                   "total_seconds": round(total_seconds), "load_average_1min": round(os.getloadavg()[0], 1)},
    }
    dump_json(metrics, os.path.join(vdir, "metrics.json"))
    print(f"wrote {onnx_path} (sha256 {sha}) and metrics.json; training {train_seconds:.0f}s, "
          f"images {t_data:.0f}s, total {total_seconds:.0f}s")


def environment(torch, onnx):
    import platform

    import PIL

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "onnx": onnx.__version__,
        "torch_threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "machine": platform.machine(),
    }


def evaluate(probs, truth, reject_label):
    """Held-out accuracy, confusion, and the calibrated reject threshold."""
    reject = LABELS.index(reject_label)
    pred = probs.argmax(1)
    top = probs.max(1)
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for t, p in zip(truth, pred):
        confusion[t, p] += 1
    in_range = truth != reject
    # The largest threshold that flags at most the budget of in-range images on top of
    # those the model already calls the reject label.
    in_scores = np.sort(top[in_range & (pred != reject)])
    k = int(math.floor(IN_RANGE_REJECT_BUDGET * in_range.sum()))
    threshold = float(np.floor(in_scores[k] * 100) / 100) if k < len(in_scores) else 0.0
    flagged = (pred == reject) | (top < threshold)
    ok = in_range & ~flagged
    return {
        "val_accuracy": round(float((pred == truth).mean()), 4),
        "val_in_range_accuracy": round(float((pred[in_range] == truth[in_range]).mean()), 4),
        "val_in_range_accuracy_answered": round(float((pred[ok] == truth[ok]).mean()), 4),
        "val_in_range_flagged": round(float(flagged[in_range].mean()), 4),
        "val_reject_flagged": round(float(flagged[~in_range].mean()), 4),
        "calibrated_min_score": threshold,
        "per_label_accuracy": {l: round(float(confusion[i, i] / max(1, confusion[i].sum())), 4)
                               for i, l in enumerate(LABELS)},
        "confusion": confusion.tolist(),
    }


def dump_json(obj, path):
    """Two-space JSON with short lists of numbers kept on one line."""
    text = json.dumps(obj, indent=2)
    text = re.sub(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
