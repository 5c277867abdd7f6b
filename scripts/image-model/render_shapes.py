"""Procedural training renderer for the `shapes` image classifier.

Draws a scene on a canvas of random size and aspect ratio: one shape (filled
or outlined), or none, or several, on a flat, graded or textured background,
then blurs it, adds pixel noise and may pass it through JPEG. Shapes are
polygon outlines in a unit frame (circumradius <= 1), stretched, rotated,
scaled and placed; each pixel mixes foreground and background by the
fraction of its 4x4 sub-pixel centres inside the shape (PIL scanline fill,
even-odd rule, so a ring is an outer and an inner outline).

Only training uses this file. The robustness test set is drawn by a separate
generator, test/support/shape-scenes.ts (signed distance fields, its own
backgrounds and random numbers), so the evaluation does not share this
file's quirks.

Label rules (the card documents them):
  - a filled shape is its shape; an outlined circle is a ring; an outlined
    square, triangle, star or cross is its shape (thin or thick stroke);
  - no shape, or two or more shapes, is "other" (the reject class).

Usage as a script (writes sample PNGs to look at):
    /usr/bin/python3 scripts/image-model/render_shapes.py OUT_DIR [COUNT_PER_LABEL]
"""

import io
import math
import sys

import numpy as np

SHAPES = ["circle", "square", "triangle", "star", "cross", "ring"]
REJECT = "other"
LABELS = SHAPES + [REJECT]

CIRCLE_SIDES = 48
RADIUS_FRAC = (0.10, 0.46)       # circumradius / shorter canvas side
SMALL_FRAC = 0.4                 # share of shapes drawn in the small part of the range
SMALL_RADIUS_FRAC = (0.10, 0.22)
MIN_MODEL_RADIUS = 5.0           # pixels in the 64x64 model input
ASPECT_LOG = 0.25                # shape stretch: x *= exp(U(-a, a)), y /= it
CANVAS_ASPECT_LOG = math.log(3.0)  # canvas width / height in exp(U(-a, a)) for non-square canvases
NONSQUARE_PROB = 0.45
CANVAS_LONG = (48, 160)          # longer canvas side, pixels
STAR_INNER = (0.35, 0.58)
CROSS_HALF_WIDTH = (0.16, 0.36)
RING_INNER = (0.40, 0.93)        # up to thin rings: a thin circle outline is a ring
OUTLINE_PROB = 0.3               # of circle..cross: drawn as an outline (circle -> ring)
STROKE_FRAC = (0.05, 0.40)       # stroke width / circumradius
LOW_CONTRAST_PROB = 0.25
LUMA_DIFF = (45.0, 200.0)        # normal contrast: |luma(fg) - luma(bg)|, 0..255
LOW_LUMA_DIFF = (10.0, 45.0)     # low contrast
BLUR_PROB = 0.4
BLUR_SIGMA = (0.3, 1.5)          # in 64-px units
NOISE_SIGMA = (0.0, 16.0)
JPEG_PROB = 0.3
JPEG_QUALITY = (20, 95)
SUPERSAMPLE = 4


def luma(c):
    return 0.299 * c[..., 0] + 0.587 * c[..., 1] + 0.114 * c[..., 2]


def regular_polygon(n, radius, phase=0.0):
    a = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([radius * np.cos(a), radius * np.sin(a)], axis=1)


def unit_outlines(label, rng):
    """Polygon outlines (list of (k, 2) arrays) of a shape, circumradius <= 1."""
    if label == "circle":
        return [regular_polygon(CIRCLE_SIDES, 1.0)]
    if label == "square":
        return [regular_polygon(4, 1.0, math.pi / 4)]
    if label == "triangle":
        return [regular_polygon(3, 1.0, -math.pi / 2)]
    if label == "star":
        inner = rng.uniform(*STAR_INNER)
        radii = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        a = -math.pi / 2 + 2 * math.pi * np.arange(10) / 10
        return [np.stack([radii * np.cos(a), radii * np.sin(a)], axis=1)]
    if label == "cross":
        w = rng.uniform(*CROSS_HALF_WIDTH)
        length = math.sqrt(1 - w * w)
        pts = [(w, length), (w, w), (length, w), (length, -w), (w, -w), (w, -length),
               (-w, -length), (-w, -w), (-length, -w), (-length, w), (-w, w), (-w, length)]
        return [np.array(pts, dtype=np.float64)]
    if label == "ring":
        inner = rng.uniform(*RING_INNER)
        return [regular_polygon(CIRCLE_SIDES, 1.0), regular_polygon(CIRCLE_SIDES, inner)]
    raise ValueError(f"unknown label {label!r}")


def coverage(outlines, w, h, stroke=None):
    """Anti-aliased (h, w) coverage in 0..1: the even-odd fill of the outlines,
    or, with `stroke` (pixels), a band of that width centred on them."""
    from PIL import Image, ImageChops, ImageDraw

    s = SUPERSAMPLE
    mask = Image.new("1", (w * s, h * s), 0)
    for poly in outlines:
        layer = Image.new("1", mask.size, 0)
        pts = [(float(x) * s - 0.5, float(y) * s - 0.5) for x, y in poly]
        draw = ImageDraw.Draw(layer)
        if stroke is None:
            draw.polygon(pts, fill=1)
        else:
            width = max(1, int(round(stroke * s)))
            draw.line(pts + [pts[0], pts[1]], fill=1, width=width, joint="curve")
        mask = ImageChops.logical_xor(mask, layer) if stroke is None else ImageChops.logical_or(mask, layer)
    cov = mask.convert("L").reduce(s)
    return np.asarray(cov, dtype=np.float64) / 255.0


def gaussian_blur(img, sigma):
    radius = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    h, w = img.shape[:2]
    p = np.pad(img, ((radius, radius), (0, 0), (0, 0)), mode="edge")
    img = sum(k[i] * p[i:i + h] for i in range(2 * radius + 1))
    p = np.pad(img, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    return sum(k[i] * p[:, i:i + w] for i in range(2 * radius + 1))


def smooth_noise(rng, w, h, cells):
    """(h, w) value noise in 0..1: a random grid of `cells` per side, bicubically upsampled."""
    from PIL import Image

    gw, gh = max(2, int(cells * w / max(w, h)) + 1), max(2, int(cells * h / max(w, h)) + 1)
    grid = (rng.uniform(0, 255, (gh, gw))).astype(np.uint8)
    up = Image.fromarray(grid).resize((w, h), Image.BICUBIC)
    return np.asarray(up, dtype=np.float64) / 255.0


def background(rng, w, h, base):
    """(h, w, 3) float background around colour `base`: flat, gradient or texture."""
    c = base[None, None, :]
    kind = rng.choice(["flat", "gradient", "texture", "stripes", "checker", "speckle"],
                      p=[0.22, 0.25, 0.25, 0.1, 0.08, 0.1])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    if kind == "flat":
        return np.broadcast_to(c, (h, w, 3)).copy()
    amp = rng.uniform(10, 60)
    direction = rng.uniform(-1, 1, 3)
    if kind == "gradient":
        phi = rng.uniform(0, 2 * math.pi)
        t = ((xs - w / 2) * math.cos(phi) + (ys - h / 2) * math.sin(phi)) / max(w, h)
        return c + 2 * t[:, :, None] * amp * direction
    if kind == "texture":
        t = smooth_noise(rng, w, h, rng.uniform(3, 16)) - 0.5
        t = t + 0.5 * (smooth_noise(rng, w, h, rng.uniform(16, 40)) - 0.5)
        return c + t[:, :, None] * amp * 1.5 * direction
    if kind == "stripes":
        period = rng.uniform(3, 14) * max(w, h) / 64
        phi = rng.uniform(0, math.pi)
        t = np.sin(2 * math.pi * (xs * math.cos(phi) + ys * math.sin(phi)) / period)
        return c + t[:, :, None] * amp * 0.5 * direction
    if kind == "checker":
        cell = rng.uniform(3, 12) * max(w, h) / 64
        t = ((np.floor(xs / cell) + np.floor(ys / cell)) % 2) - 0.5
        return c + t[:, :, None] * amp * 0.6 * direction
    t = rng.uniform(-1, 1, (h, w))
    return c + t[:, :, None] * amp * 0.5 * direction


def pick_colours(rng, low_contrast):
    """Foreground and background base colours whose luma differs as asked."""
    lo, hi = LOW_LUMA_DIFF if low_contrast else LUMA_DIFF
    while True:
        bg = rng.uniform(0, 255, 3)
        fg = rng.uniform(0, 255, 3)
        d = luma(fg) - luma(bg)
        if lo <= abs(d) <= hi:
            return fg, bg


def place(label, rng, w, h, radius, taken):
    """Pixel-space outlines of `label` with circumradius `radius`, not overlapping `taken` discs."""
    outlines = unit_outlines(label, rng)
    aspect = math.exp(rng.uniform(-ASPECT_LOG, ASPECT_LOG))
    sx, sy = radius * aspect, radius / aspect
    extent = max(sx, sy)
    limit = 0.48 * min(w, h) - 1
    if extent > limit:
        sx, sy, extent = sx * limit / extent, sy * limit / extent, limit
    for _ in range(30):
        cx = rng.uniform(extent + 1, w - extent - 1)
        cy = rng.uniform(extent + 1, h - extent - 1)
        if all(math.hypot(cx - x, cy - y) > extent + e + 2 for x, y, e in taken):
            break
    else:
        return None, extent
    theta = rng.uniform(0, 2 * math.pi)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    placed = []
    for poly in outlines:
        x, y = poly[:, 0] * sx, poly[:, 1] * sy
        placed.append(np.stack([cx + x * cos_t - y * sin_t, cy + x * sin_t + y * cos_t], axis=1))
    taken.append((cx, cy, extent))
    return placed, extent


def canvas_size(rng):
    long = int(rng.integers(CANVAS_LONG[0], CANVAS_LONG[1] + 1))
    if rng.uniform() >= NONSQUARE_PROB:
        return long, long
    r = math.exp(rng.uniform(-CANVAS_ASPECT_LOG, CANVAS_ASPECT_LOG))
    short = max(24, int(round(long / max(r, 1 / r))))
    return (long, short) if r >= 1 else (short, long)


def draw_one(label, rng, w, h, img, taken, fg, radius, outlined=None):
    """Draws `label` (filled, or outlined at random unless `outlined` says) into img;
    returns the label it shows, or None when it did not fit."""
    if outlined is None:
        outlined = label != "ring" and rng.uniform() < OUTLINE_PROB
    placed, extent = place(label, rng, w, h, radius, taken)
    if placed is None:
        return None
    stroke = rng.uniform(*STROKE_FRAC) * extent if outlined else None
    if stroke is not None:
        stroke = max(stroke, 1.0)
    cov = coverage(placed, w, h, stroke)[:, :, None]
    img[:] = img * (1 - cov) + fg[None, None, :] * cov
    return "ring" if outlined and label == "circle" else label


def scene(label, rng):
    """An (h, w, 3) uint8 RGB scene whose true answer is `label` (one of LABELS)."""
    w, h = canvas_size(rng)
    low = rng.uniform() < LOW_CONTRAST_PROB
    fg, bgc = pick_colours(rng, low)
    img = background(rng, w, h, bgc)
    short = min(w, h)
    small = rng.uniform() < SMALL_FRAC
    taken = []
    if label != REJECT:
        r = rng.uniform(*(SMALL_RADIUS_FRAC if small else RADIUS_FRAC)) * short
        # At least MIN_MODEL_RADIUS pixels once letterboxed to the model's 64x64.
        r = min(max(r, MIN_MODEL_RADIUS * max(w, h) / 64), 0.46 * short)
        if label == "ring" and rng.uniform() < 0.4:
            label_out = draw_one("circle", rng, w, h, img, taken, fg, r, outlined=True)
        else:
            label_out = draw_one(label, rng, w, h, img, taken, fg, r)
    else:
        kind = rng.choice(["empty", "loud", "several"], p=[0.3, 0.2, 0.5])
        if kind == "loud":  # photo-like texture or plain noise across the whole range
            if rng.uniform() < 0.5:
                img = np.clip(img + (smooth_noise(rng, w, h, rng.uniform(4, 32))[:, :, None] - 0.5)
                              * rng.uniform(100, 300, 3), 0, 255)
            else:
                img = rng.uniform(0, 255, (h, w, 3)) if rng.uniform() < 0.5 else \
                    img + rng.normal(0, rng.uniform(30, 90), (h, w, 3))
        if kind == "several":
            n = int(rng.integers(2, 5))
            r = max(rng.uniform(0.10, 0.30) * short, MIN_MODEL_RADIUS * max(w, h) / 64)
            for _ in range(n):
                other_fg = fg if rng.uniform() < 0.5 else pick_colours(rng, False)[0]
                draw_one(SHAPES[int(rng.integers(0, 5))] if rng.uniform() < 0.8 else "ring",
                         rng, w, h, img, taken, other_fg, r * rng.uniform(0.7, 1.3))
            if len(taken) < 2:
                return None
        label_out = REJECT
    if rng.uniform() < BLUR_PROB:
        img = gaussian_blur(img, rng.uniform(*BLUR_SIGMA) * short / 64)
    img = img + rng.normal(0.0, 1.0, img.shape) * rng.uniform(*NOISE_SIGMA)
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if rng.uniform() < JPEG_PROB:
        out = jpeg(out, int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))
    return out, label_out


def jpeg(img, quality):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def render(label, rng):
    """A scene for `label`, redrawn until it could be placed. Returns (image, label shown)."""
    while True:
        out = scene(label, rng)
        if out is not None and out[1] is not None:
            return out


def letterbox(img, size, pad):
    """Fits img inside size x size keeping its aspect ratio (Lanczos), centred on `pad` colour,
    as the server's "contain" resize does."""
    from PIL import Image

    h, w = img.shape[:2]
    scale = size / max(w, h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = Image.fromarray(img).resize((nw, nh), Image.LANCZOS)
    canvas = Image.new("RGB", (size, size), tuple(int(v) for v in pad))
    canvas.paste(small, ((size - nw) // 2, (size - nh) // 2))
    return np.asarray(canvas)


def main(argv):
    import os

    from PIL import Image

    out = argv[1] if len(argv) > 1 else "/tmp/shapes-samples"
    count = int(argv[2]) if len(argv) > 2 else 4
    os.makedirs(out, exist_ok=True)
    for li, label in enumerate(LABELS):
        for i in range(count):
            img, shown = render(label, np.random.default_rng([7, li, i]))
            Image.fromarray(img).save(os.path.join(out, f"{label}-{i}-{shown}.png"))
    print(f"wrote {len(LABELS) * count} images to {out}")


if __name__ == "__main__":
    main(sys.argv)
