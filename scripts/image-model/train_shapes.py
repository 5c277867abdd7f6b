"""Train the `shapes` image classifier and write its model-repository artifacts.

Generates its own data (scripts/image-model/render_shapes.py, no downloads),
trains a small CNN with PyTorch on CPU, checks it on a held-out set drawn
with a different seed, and writes:

    models/shapes/1/model.onnx     input `image` [N,3,64,64] -> `probabilities` [N,6]
    models/shapes/1/metrics.json
    models/shapes/1/MODEL_CARD.md
    models/shapes/labels.txt
    models/shapes/config.json

Run (Debian 12 packages, no pip):
    apt-get install -y python3-torch python3-onnx python3-numpy python3-pil
    /usr/bin/python3 scripts/image-model/train_shapes.py
"""

import os

# Two OpenMP threads that sleep instead of spinning when they wait: on a shared
# 2-core machine spinning threads slow training down several-fold.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render_shapes  # noqa: E402
from render_shapes import LABELS  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_DIR = os.path.join(REPO, "models", "shapes")
VERSION = "1"

SEED = 20241129            # training images, weight init, batch order
TEST_SEED = 4242017        # held-out images: a different seed, so different images
TRAIN_SAMPLES = 12000      # per class: TRAIN_SAMPLES / 6
TEST_SAMPLES = 3000
SIZE = 64
# Half the images are drawn at 64x64; the other half at a random size in
# 65..128 and downscaled (Lanczos) to 64x64, as a client's larger photo would be.
NATIVE_FRACTION = 0.5
LARGE_SIZES = (65, 128)

EPOCHS = 6
BATCH = 64
LR = 3e-3
WEIGHT_DECAY = 1e-4
THREADS = 2


def draw_sample(args):
    seed, index = args
    rng = np.random.default_rng([seed, index])
    label = index % len(LABELS)
    if rng.uniform() < NATIVE_FRACTION:
        img = render_shapes.render(LABELS[label], rng, SIZE)
    else:
        size = int(rng.integers(LARGE_SIZES[0], LARGE_SIZES[1] + 1))
        big = render_shapes.render(LABELS[label], rng, size)
        img = np.asarray(Image.fromarray(big).resize((SIZE, SIZE), Image.LANCZOS))
    return img, label


def make_dataset(seed, count):
    """(count, 64, 64, 3) uint8 images and their labels; sample i depends only on (seed, i)."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(THREADS) as pool:
        out = pool.map(draw_sample, [(seed, i) for i in range(count)], chunksize=200)
    images = np.stack([o[0] for o in out])
    labels = np.array([o[1] for o in out], dtype=np.int64)
    return images, labels


def build_model(nn):
    class ShapesNet(nn.Module):
        """Normalised 64x64 RGB -> logits. ~61k parameters."""

        def __init__(self):
            super().__init__()

            def block(cin, cout):
                return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

            self.features = nn.Sequential(
                nn.AvgPool2d(2),                        # 64 -> 32
                *block(3, 16), nn.MaxPool2d(2),         # 32 -> 16
                *block(16, 32), nn.MaxPool2d(2),        # 16 -> 8
                *block(32, 64), nn.MaxPool2d(2),        # 8 -> 4
                *block(64, 64),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            )
            self.classifier = nn.Linear(64, len(LABELS))

        def forward(self, x):
            return self.classifier(self.features(x))

    return ShapesNet()


def main():
    t_start = time.time()
    random.seed(SEED)
    np.random.seed(SEED)

    print(f"generating {TRAIN_SAMPLES} training images (seed {SEED}) and "
          f"{TEST_SAMPLES} held-out images (seed {TEST_SEED}) ...", flush=True)
    train_x, train_y = make_dataset(SEED, TRAIN_SAMPLES)
    test_x, test_y = make_dataset(TEST_SEED, TEST_SAMPLES)
    t_data = time.time() - t_start
    print(f"  done in {t_data:.1f}s", flush=True)

    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)
    torch.set_num_threads(THREADS)
    try:
        torch.use_deterministic_algorithms(True)
        deterministic = True
    except Exception as e:  # pragma: no cover - depends on the torch build
        print(f"deterministic algorithms unavailable: {e}")
        deterministic = False

    # Per-channel mean/std of x/255 over the training images, rounded: recorded
    # in config.json, where the server applies them before the model.
    scaled = train_x.reshape(-1, 3).astype(np.float64) / 255.0
    mean = [round(float(v), 4) for v in scaled.mean(axis=0)]
    std = [round(float(v), 4) for v in scaled.std(axis=0)]
    del scaled
    print(f"normalisation: mean {mean} std {std}")

    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def to_tensor(images):
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
        return (x - mean_t) / std_t

    xtr, ytr = to_tensor(train_x), torch.from_numpy(train_y)
    xte, yte = to_tensor(test_x), torch.from_numpy(test_y)

    model = build_model(nn)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = math.ceil(len(xtr) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, epochs=EPOCHS, steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)
    loss_fn = nn.CrossEntropyLoss()

    t_train = time.time()
    for epoch in range(1, EPOCHS + 1):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for b in range(steps_per_epoch):
            idx = order[b * BATCH:(b + 1) * BATCH]
            xb, yb = xtr[idx], ytr[idx]
            # Mirror images are the same shapes: flip half the batches for free variety.
            if torch.rand(1, generator=gen).item() < 0.5:
                xb = torch.flip(xb, dims=[3])
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
        pred = torch.cat([model(xte[i:i + 256]).argmax(1) for i in range(0, len(xte), 256)])
    test_acc = (pred == yte).float().mean().item()
    per_class = {}
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for t, p in zip(yte.tolist(), pred.tolist()):
        confusion[t, p] += 1
    for i, label in enumerate(LABELS):
        per_class[label] = round(float(confusion[i, i] / confusion[i].sum()), 4)
    print(f"held-out accuracy: {test_acc:.4f} ({int((pred == yte).sum())}/{len(yte)})")
    print("per-class accuracy:")
    for label in LABELS:
        print(f"  {label:9s} {per_class[label]:.4f}")
    print("confusion (rows: true, cols: predicted, order " + ", ".join(LABELS) + "):")
    for i, label in enumerate(LABELS):
        print(f"  {label:9s} " + " ".join(f"{v:5d}" for v in confusion[i]))

    # ---- export: normalised image in, probabilities out (softmax in the graph)
    class Exported(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, image):
            return torch.softmax(self.net(image), dim=1)

    os.makedirs(os.path.join(MODEL_DIR, VERSION), exist_ok=True)
    onnx_path = os.path.join(MODEL_DIR, VERSION, "model.onnx")
    exported = Exported(model).eval()
    torch.onnx.export(
        exported, xte[:2], onnx_path, opset_version=13, do_constant_folding=True,
        input_names=["image"], output_names=["probabilities"],
        dynamic_axes={"image": {0: "N"}, "probabilities": {0: "N"}},
    )
    import onnx

    m = onnx.load(onnx_path)
    onnx.checker.check_model(m)
    m.producer_name = "scripts/image-model/train_shapes.py"
    m.doc_string = "shapes v1: 64x64 RGB geometric-shape classifier; see MODEL_CARD.md"
    onnx.save(m, onnx_path)
    model_bytes = os.path.getsize(onnx_path)
    print(f"wrote {onnx_path} ({model_bytes} bytes)")

    total_seconds = time.time() - t_start
    write_artifacts(mean, std, test_acc, per_class, confusion, n_params, model_bytes,
                    train_seconds, total_seconds, t_data, deterministic)
    print(f"training took {train_seconds:.0f}s; total {total_seconds:.0f}s")


def dump_json(obj, path):
    """Two-space JSON with short lists of numbers kept on one line."""
    text = json.dumps(obj, indent=2)
    text = re.sub(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    with open(path, "w") as f:
        f.write(text + "\n")


def write_artifacts(mean, std, test_acc, per_class, confusion, n_params, model_bytes,
                    train_seconds, total_seconds, data_seconds, deterministic):
    vdir = os.path.join(MODEL_DIR, VERSION)
    with open(os.path.join(MODEL_DIR, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")

    config = {
        "name": "shapes",
        "task": "image_classification",
        "description": "Small CNN that classifies a 64x64 RGB image of one filled geometric shape as "
                       + ", ".join(LABELS) + ". Trained only on procedurally drawn images; see 1/MODEL_CARD.md.",
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 3, SIZE, SIZE]}],
        "outputs": [{"name": "probabilities", "dtype": "float32", "shape": [-1, len(LABELS)]}],
        "labels_file": "labels.txt",
        "preprocessing": {"image": {
            "width": SIZE, "height": SIZE, "resize": "fill", "layout": "NCHW", "channel_order": "RGB",
            "scale": 255, "mean": mean, "std": std, "output": "probabilities",
        }},
        "batching": {"max_batch_size": 32, "max_queue_delay_us": 0, "max_queue_rows": 512},
        "session": {"intra_op_threads": 1, "graph_optimization_level": "all"},
    }
    dump_json(config, os.path.join(MODEL_DIR, "config.json"))

    metrics = {
        "version": VERSION,
        "test_accuracy": round(test_acc, 4),
        "per_class_accuracy": per_class,
        "train_samples": TRAIN_SAMPLES,
        "test_samples": TEST_SAMPLES,
        "seed": SEED,
        "test_seed": TEST_SEED,
        "confusion": {"labels": LABELS, "rows_true_cols_predicted": confusion.tolist()},
    }
    dump_json(metrics, os.path.join(vdir, "metrics.json"))

    r = render_shapes
    per_class_rows = "\n".join(f"| {label} | {per_class[label] * 100:.2f}% |" for label in LABELS)
    card = f"""# Model card: shapes v{VERSION}

A small convolutional network that says which geometric shape a 64x64 RGB
image shows: **{", ".join(LABELS)}**. Artifact: `models/shapes/{VERSION}/model.onnx`
(ONNX opset 13, {model_bytes} bytes, {n_params} parameters), written by
`scripts/image-model/train_shapes.py` together with this card,
`metrics.json`, `../labels.txt` and `../config.json`. Do not edit them by hand:
retrain instead.

## Intended use and limits

- A demonstration and test model for the prediction server's image
  classification path (decoding, resizing, normalisation, batching, labels).
  It is not a general image classifier.
- Trained only on **synthetic** pictures: one filled, flat-coloured shape on a
  plain or gently graded background, with blur and pixel noise. It always
  answers with one of the six labels, even for photos, drawings of other
  objects, outlines only, several shapes, text, or an empty image: its
  probabilities mean nothing outside the generator's distribution.
- The shape must be reasonably large (roughly 40-95% of the image's width) and
  fully inside the image, and must differ clearly from the background
  (luma difference of at least {r.MIN_LUMA_DIFF:.0f}/255). Small, cropped or
  low-contrast shapes are outside what it was trained on.
- "circle" includes ellipses, "square" includes rectangles and "ring"
  includes elliptical rings, up to an aspect ratio of about
  {math.exp(2 * r.ASPECT_LOG):.2f}:1; flatter ones are untested.
- Non-square images are stretched to 64x64 ("fill"), which changes the shapes'
  proportions; a square crop works best.

## Training data (generator)

`scripts/image-model/render_shapes.py` draws every image; nothing is
downloaded. `test/support/shape-images.ts` implements the same recipe in
TypeScript for the tests. Per image, with a numpy generator seeded by
(seed, image index):

| What | How |
|---|---|
| label | image index mod 6: classes are exactly balanced |
| shape | circle (40-gon); square; equilateral triangle; 5-pointed star, inner/outer radius U{r.STAR_INNER}; plus-shaped cross, arm half-width U{r.CROSS_HALF_WIDTH} of the circumradius; ring, inner/outer radius U{r.RING_INNER} |
| size | circumradius U{r.RADIUS_FRAC} of the image size |
| aspect | x stretched by a, y by 1/a, a = exp(U(-{r.ASPECT_LOG}, {r.ASPECT_LOG})); largest semi-axis at most {r.MAX_EXTENT_FRAC} of the image |
| rotation | uniform, 0-360 degrees |
| position | uniform, anywhere the whole shape fits |
| colours | foreground and background uniform in RGB, redrawn until the luma differs by >= {r.MIN_LUMA_DIFF:.0f} and the RGB distance is >= {r.MIN_RGB_DIST:.0f}; the background is a linear gradient in a random direction to a second colour within +-{r.BG_GRADIENT} per channel (also contrasting) |
| anti-aliasing | coverage from 4x4 sub-pixel samples, even-odd rule |
| blur | with probability {r.BLUR_PROB}: Gaussian, sigma U{r.BLUR_SIGMA} px at 64 px (scaled with the size) |
| noise | Gaussian per pixel and channel, sigma U{r.NOISE_SIGMA} (0-255 scale) |
| resolution | {int(NATIVE_FRACTION * 100)}% drawn at 64x64; the rest at a random size in {LARGE_SIZES[0]}..{LARGE_SIZES[1]} px and downscaled to 64x64 with Lanczos |

- Training set: {TRAIN_SAMPLES} images, seed {SEED}.
- Held-out test set: {TEST_SAMPLES} images, seed {TEST_SEED} (a different seed,
  so none of its images are in the training set).

## Architecture

Input 3x64x64 → 2x2 average pool (32x32) → four blocks of 3x3 convolution
(16, 32, 64, 64 channels, no bias) + batch norm + ReLU, the first three each
followed by 2x2 max pooling (16, 8, 4) → global average pool → linear 64→6 →
softmax (in the graph). Batch norm is folded into the convolutions at export.

## Training

PyTorch {__import__("torch").__version__} on CPU, {THREADS} threads,
deterministic algorithms {"on" if deterministic else "off"}; python `random`,
numpy and torch seeded with {SEED}. AdamW (weight decay {WEIGHT_DECAY}),
one-cycle learning rate up to {LR}, batch {BATCH}, {EPOCHS} epochs, cross-entropy;
half the batches mirrored left-right. Training took {train_seconds:.0f} s
(plus {data_seconds:.0f} s to draw the images; {total_seconds:.0f} s in all) on
a 2-core machine.

## Evaluation

Held-out accuracy: **{test_acc * 100:.2f}%** ({TEST_SAMPLES} images).

| Label | Accuracy |
|---|---|
{per_class_rows}

The full confusion matrix is in `metrics.json`. `test/shapes-model.test.ts`
also checks the ONNX model on images that the TypeScript renderer draws at test
time (96x96, resized by sharp as the server does) with seeds training never
used.

## Labels (output index order)

{chr(10).join(f"{i}. {label}" for i, label in enumerate(LABELS))}

(`../labels.txt`, one per line, index 0 first.)

## Input and output

- Input `image`: float32 `[N, 3, 64, 64]`, NCHW, channels R, G, B.
- Preprocessing (also in `../config.json`): decode, resize to 64x64 by
  stretching ("fill"), drop alpha, then per channel `(pixel / 255 - mean) / std`
  with mean **{mean}** and std **{std}** (R, G, B; measured on the training
  images).
- Output `probabilities`: float32 `[N, 6]`, softmax probabilities in label
  order (the server must not apply another softmax: `"output": "probabilities"`).

## Retraining

```sh
apt-get install -y python3-torch python3-onnx python3-numpy python3-pil
/usr/bin/python3 scripts/image-model/train_shapes.py
npx vitest run test/shapes-model.test.ts
```

Use Debian's `/usr/bin/python3` (the packages above are installed for it).
The script rewrites every artifact listed at the top of this card. To look at
training-style images: `/usr/bin/python3 scripts/image-model/render_shapes.py /tmp/shapes 4`.
"""
    with open(os.path.join(vdir, "MODEL_CARD.md"), "w") as f:
        f.write(card)


if __name__ == "__main__":
    main()
