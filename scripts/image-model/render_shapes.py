"""Procedural renderer for the `shapes` image classifier.

Draws one filled geometric shape on a two-colour gradient background, then
blurs it and adds Gaussian pixel noise. Every shape is a set of polygon
outlines in a unit frame (circumradius <= 1), stretched by an aspect jitter,
rotated, scaled and placed in the image; each pixel's colour mixes foreground
and background by the fraction of its 4x4 sub-pixel centres that fall inside
the shape (even-odd rule, so a ring is an outer and an inner outline).

`test/support/shape-images.ts` implements the very same recipe in
TypeScript (same parameter ranges, same rasteriser, same blur and noise), so
the images the tests render come from the distribution the model was trained
on. Change the two together.

Usage as a script (writes sample PNGs to look at):
    /usr/bin/python3 scripts/image-model/render_shapes.py OUT_DIR [COUNT_PER_LABEL]
"""

import math
import sys

import numpy as np

LABELS = ["circle", "square", "triangle", "star", "cross", "ring"]

# Parameter ranges shared with test/support/shape-images.ts.
CIRCLE_SIDES = 40
RADIUS_FRAC = (0.22, 0.45)       # circumradius / image size
MAX_EXTENT_FRAC = 0.48           # largest semi-axis after aspect jitter / image size
ASPECT_LOG = 0.2                 # aspect = exp(U(-0.2, 0.2)); x *= aspect, y /= aspect
STAR_INNER = (0.38, 0.55)        # inner / outer radius of the 5-pointed star
CROSS_HALF_WIDTH = (0.20, 0.34)  # half-width of the cross arms (unit frame)
RING_INNER = (0.45, 0.72)        # inner / outer radius of the ring
MIN_LUMA_DIFF = 45.0             # foreground vs. each background end, 0..255
MIN_RGB_DIST = 90.0
BG_GRADIENT = 40                 # second background colour = first +- this per channel
BLUR_PROB = 0.5
BLUR_SIGMA = (0.3, 1.2)          # in 64-px units, scaled with the image size
NOISE_SIGMA = (0.0, 14.0)        # per-pixel Gaussian noise, 0..255 units


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


def luma(c):
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def contrasting(fg, bg):
    return abs(luma(fg) - luma(bg)) >= MIN_LUMA_DIFF and np.linalg.norm(fg - bg) >= MIN_RGB_DIST


def pick_colours(rng):
    while True:
        fg = rng.integers(0, 256, 3).astype(np.float64)
        bg1 = rng.integers(0, 256, 3).astype(np.float64)
        bg2 = np.clip(bg1 + rng.integers(-BG_GRADIENT, BG_GRADIENT + 1, 3), 0, 255)
        if contrasting(fg, bg1) and contrasting(fg, bg2):
            return fg, bg1, bg2


SUPERSAMPLE = 4  # coverage = fraction of the 4x4 sub-pixel centres inside the shape


def coverage(outlines, size):
    """Anti-aliased coverage (size, size) in 0..1 of the even-odd union of outlines (pixel coords).

    Rasterised at 4x resolution (each outline XOR-ed into a mask, so a ring's
    inner outline punches the hole) and box-averaged down.
    """
    from PIL import Image, ImageChops, ImageDraw

    big = size * SUPERSAMPLE
    mask = Image.new("1", (big, big), 0)
    for poly in outlines:
        layer = Image.new("1", (big, big), 0)
        # PIL addresses pixel centres at integer coordinates: shift by half a sub-pixel.
        pts = [(float(x) * SUPERSAMPLE - 0.5, float(y) * SUPERSAMPLE - 0.5) for x, y in poly]
        ImageDraw.Draw(layer).polygon(pts, fill=1)
        mask = ImageChops.logical_xor(mask, layer)
    cov = mask.convert("L").reduce(SUPERSAMPLE)
    return np.asarray(cov, dtype=np.float64) / 255.0


def gaussian_blur(img, sigma):
    """Separable Gaussian blur of an (H, W, C) float image, edges clamped."""
    radius = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    h, w = img.shape[:2]
    p = np.pad(img, ((radius, radius), (0, 0), (0, 0)), mode="edge")
    img = sum(k[i] * p[i:i + h] for i in range(2 * radius + 1))
    p = np.pad(img, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    return sum(k[i] * p[:, i:i + w] for i in range(2 * radius + 1))


def render(label, rng, size=64):
    """One (size, size, 3) uint8 RGB image of `label`, drawn with numpy Generator `rng`."""
    outlines = unit_outlines(label, rng)
    r = rng.uniform(*RADIUS_FRAC) * size
    aspect = math.exp(rng.uniform(-ASPECT_LOG, ASPECT_LOG))
    sx, sy = r * aspect, r / aspect
    extent = max(sx, sy)
    if extent > MAX_EXTENT_FRAC * size:
        shrink = MAX_EXTENT_FRAC * size / extent
        sx, sy, extent = sx * shrink, sy * shrink, extent * shrink
    theta = rng.uniform(0, 2 * math.pi)
    cx = rng.uniform(extent, size - extent)
    cy = rng.uniform(extent, size - extent)
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    placed = []
    for poly in outlines:
        x, y = poly[:, 0] * sx, poly[:, 1] * sy
        placed.append(np.stack([cx + x * cos_t - y * sin_t, cy + x * sin_t + y * cos_t], axis=1))

    fg, bg1, bg2 = pick_colours(rng)
    phi = rng.uniform(0, 2 * math.pi)
    c = np.arange(size, dtype=np.float64) + 0.5
    px, py = np.meshgrid(c, c)
    t = np.clip(((px - size / 2) * math.cos(phi) + (py - size / 2) * math.sin(phi)) / size + 0.5, 0, 1)
    bg = bg1[None, None, :] + (bg2 - bg1)[None, None, :] * t[:, :, None]

    cov = coverage(placed, size)[:, :, None]
    img = bg * (1 - cov) + fg[None, None, :] * cov

    if rng.uniform() < BLUR_PROB:
        img = gaussian_blur(img, rng.uniform(*BLUR_SIGMA) * size / 64)
    noise_sigma = rng.uniform(*NOISE_SIGMA)
    img = img + rng.normal(0.0, 1.0, img.shape) * noise_sigma
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def main(argv):
    from PIL import Image

    out = argv[1] if len(argv) > 1 else "/tmp/shapes-samples"
    count = int(argv[2]) if len(argv) > 2 else 4
    import os

    os.makedirs(out, exist_ok=True)
    for li, label in enumerate(LABELS):
        for i in range(count):
            rng = np.random.default_rng([7, li, i])
            Image.fromarray(render(label, rng, 96)).save(os.path.join(out, f"{label}-{i}.png"))
    print(f"wrote {len(LABELS) * count} images to {out}")


if __name__ == "__main__":
    main(sys.argv)
