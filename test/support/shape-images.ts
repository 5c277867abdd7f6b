// Draws test images for the `shapes` image classifier: one filled geometric
// shape on a graded background, blurred and noisy, encoded as PNG.
//
// These are clean, in-range images for tests of the serving path (decode,
// preprocessing, batching, labels). The recipe is the first model version's
// training renderer; the current training renderer
// (scripts/image-model/render_shapes.py) covers it and much more, and shares
// no code or random numbers with this file. The robustness set is
// test/support/shape-scenes.ts.
import sharp from "sharp";

export const SHAPE_LABELS = ["circle", "square", "triangle", "star", "cross", "ring"] as const;
export type ShapeLabel = (typeof SHAPE_LABELS)[number];

// Parameter ranges of the first version's training recipe.
const CIRCLE_SIDES = 40;
const RADIUS_FRAC: Range = [0.22, 0.45];
const MAX_EXTENT_FRAC = 0.48;
const ASPECT_LOG = 0.2;
const STAR_INNER: Range = [0.38, 0.55];
const CROSS_HALF_WIDTH: Range = [0.2, 0.34];
const RING_INNER: Range = [0.45, 0.72];
const MIN_LUMA_DIFF = 45;
const MIN_RGB_DIST = 90;
const BG_GRADIENT = 40;
const BLUR_PROB = 0.5;
const BLUR_SIGMA: Range = [0.3, 1.2];
const NOISE_SIGMA: Range = [0, 14];
const SUPERSAMPLE = 4;

type Range = [number, number];
type Point = [number, number];
type RGB = [number, number, number];

/** Small seeded PRNG (mulberry32) with the draws the renderer needs. */
export class Rng {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform([lo, hi]: Range): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in lo..hi inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

function regularPolygon(n: number, radius: number, phase = 0): Point[] {
  return Array.from({ length: n }, (_, i) => {
    const a = phase + (2 * Math.PI * i) / n;
    return [radius * Math.cos(a), radius * Math.sin(a)] as Point;
  });
}

/** The shape's outlines in a unit frame (circumradius <= 1). */
function unitOutlines(label: ShapeLabel, rng: Rng): Point[][] {
  switch (label) {
    case "circle":
      return [regularPolygon(CIRCLE_SIDES, 1)];
    case "square":
      return [regularPolygon(4, 1, Math.PI / 4)];
    case "triangle":
      return [regularPolygon(3, 1, -Math.PI / 2)];
    case "star": {
      const inner = rng.uniform(STAR_INNER);
      return [
        Array.from({ length: 10 }, (_, i) => {
          const r = i % 2 === 0 ? 1 : inner;
          const a = -Math.PI / 2 + (2 * Math.PI * i) / 10;
          return [r * Math.cos(a), r * Math.sin(a)] as Point;
        }),
      ];
    }
    case "cross": {
      const w = rng.uniform(CROSS_HALF_WIDTH);
      const l = Math.sqrt(1 - w * w);
      return [
        [
          [w, l],
          [w, w],
          [l, w],
          [l, -w],
          [w, -w],
          [w, -l],
          [-w, -l],
          [-w, -w],
          [-l, -w],
          [-l, w],
          [-w, w],
          [-w, l],
        ],
      ];
    }
    case "ring":
      return [regularPolygon(CIRCLE_SIDES, 1), regularPolygon(CIRCLE_SIDES, rng.uniform(RING_INNER))];
  }
}

const luma = (c: RGB) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
const contrasting = (a: RGB, b: RGB) => Math.abs(luma(a) - luma(b)) >= MIN_LUMA_DIFF && Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) >= MIN_RGB_DIST;

function pickColours(rng: Rng): [RGB, RGB, RGB] {
  for (;;) {
    const fg: RGB = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
    const bg1: RGB = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
    const bg2 = bg1.map((v) => Math.min(255, Math.max(0, v + rng.int(-BG_GRADIENT, BG_GRADIENT)))) as RGB;
    if (contrasting(fg, bg1) && contrasting(fg, bg2)) return [fg, bg1, bg2];
  }
}

/** Fraction (0..1) of each pixel's 4x4 sub-pixel centres inside the outlines (even-odd rule). */
function coverage(outlines: Point[][], size: number): Float64Array {
  const edges: [number, number, number, number][] = [];
  for (const poly of outlines) {
    for (let i = 0; i < poly.length; i++) {
      const [ax, ay] = poly[i]!;
      const [bx, by] = poly[(i + 1) % poly.length]!;
      edges.push([ax, ay, bx, by]);
    }
  }
  const cov = new Float64Array(size * size);
  const weight = 1 / (SUPERSAMPLE * SUPERSAMPLE);
  const subSize = size * SUPERSAMPLE;
  const xs: number[] = [];
  for (let sy = 0; sy < subSize; sy++) {
    const y = (sy + 0.5) / SUPERSAMPLE;
    xs.length = 0;
    for (const [ax, ay, bx, by] of edges) {
      if (ay > y !== by > y) xs.push(ax + ((y - ay) * (bx - ax)) / (by - ay));
    }
    xs.sort((a, b) => a - b);
    const row = Math.floor(sy / SUPERSAMPLE) * size;
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // sub-pixel columns whose centre (sx + 0.5) / 4 lies in [xs[k], xs[k+1])
      const from = Math.max(0, Math.ceil(xs[k]! * SUPERSAMPLE - 0.5));
      const to = Math.min(subSize, Math.ceil(xs[k + 1]! * SUPERSAMPLE - 0.5));
      for (let sx = from; sx < to; sx++) cov[row + Math.floor(sx / SUPERSAMPLE)]! += weight;
    }
  }
  return cov;
}

/** Separable Gaussian blur of an interleaved RGB float image, edges clamped. */
function gaussianBlur(img: Float64Array<ArrayBuffer>, size: number, sigma: number): Float64Array<ArrayBuffer> {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, i) => Math.exp(-0.5 * ((i - radius) / sigma) ** 2));
  const sum = kernel.reduce((a, b) => a + b, 0);
  for (let i = 0; i < kernel.length; i++) kernel[i]! /= sum;
  const clamp = (v: number) => Math.min(size - 1, Math.max(0, v));
  const pass = (src: Float64Array<ArrayBuffer>, vertical: boolean) => {
    const dst = new Float64Array(src.length);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          let acc = 0;
          for (let k = -radius; k <= radius; k++) {
            const sx = vertical ? x : clamp(x + k);
            const sy = vertical ? clamp(y + k) : y;
            acc += kernel[k + radius]! * src[(sy * size + sx) * 3 + c]!;
          }
          dst[(y * size + x) * 3 + c] = acc;
        }
      }
    }
    return dst;
  };
  return pass(pass(img, true), false);
}

/** Raw RGBA pixels (size x size, alpha always 255) of one `label` image drawn from `seed`. */
export function renderShapePixels(label: string, seed: number, size = 96): Uint8Array {
  const index = SHAPE_LABELS.indexOf(label as ShapeLabel);
  if (index < 0) throw new Error(`unknown shape label ${label}; known: ${SHAPE_LABELS.join(", ")}`);
  const rng = new Rng(Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b));
  const outlines = unitOutlines(label as ShapeLabel, rng);

  const r = rng.uniform(RADIUS_FRAC) * size;
  const aspect = Math.exp(rng.uniform([-ASPECT_LOG, ASPECT_LOG]));
  let sx = r * aspect;
  let sy = r / aspect;
  let extent = Math.max(sx, sy);
  if (extent > MAX_EXTENT_FRAC * size) {
    const shrink = (MAX_EXTENT_FRAC * size) / extent;
    sx *= shrink;
    sy *= shrink;
    extent *= shrink;
  }
  const theta = rng.uniform([0, 2 * Math.PI]);
  const cx = rng.uniform([extent, size - extent]);
  const cy = rng.uniform([extent, size - extent]);
  const cos = Math.cos(theta);
  const sin = Math.sin(theta);
  const placed = outlines.map((poly) =>
    poly.map(([ux, uy]) => {
      const x = ux * sx;
      const y = uy * sy;
      return [cx + x * cos - y * sin, cy + x * sin + y * cos] as Point;
    }),
  );

  const [fg, bg1, bg2] = pickColours(rng);
  const phi = rng.uniform([0, 2 * Math.PI]);
  const cov = coverage(placed, size);
  let img = new Float64Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const along = ((x + 0.5 - size / 2) * Math.cos(phi) + (y + 0.5 - size / 2) * Math.sin(phi)) / size + 0.5;
      const t = Math.min(1, Math.max(0, along));
      const a = cov[y * size + x]!;
      for (let c = 0; c < 3; c++) {
        const bg = bg1[c]! + (bg2[c]! - bg1[c]!) * t;
        img[(y * size + x) * 3 + c] = bg * (1 - a) + fg[c]! * a;
      }
    }
  }

  if (rng.next() < BLUR_PROB) img = gaussianBlur(img, size, (rng.uniform(BLUR_SIGMA) * size) / 64);
  const noise = rng.uniform(NOISE_SIGMA);
  const out = new Uint8Array(size * size * 4);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round(img[p * 3 + c]! + rng.normal() * noise);
      out[p * 4 + c] = Math.min(255, Math.max(0, v));
    }
    out[p * 4 + 3] = 255;
  }
  return out;
}

/** A PNG (RGBA, size x size) of one `label` image drawn from `seed`. */
export async function renderShape(label: string, seed: number, size = 96): Promise<Buffer> {
  const pixels = renderShapePixels(label, seed, size);
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
    raw: { width: size, height: size, channels: 4 },
  })
    .png()
    .toBuffer();
}
