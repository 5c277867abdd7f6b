// The robustness test set for the `shapes` model: scenes drawn per condition
// (small shapes, outlines, non-square canvases, textured backgrounds, low
// contrast, and images with no single shape) by a generator that shares no
// code with the training renderer (scripts/image-model/render_shapes.py).
//
// Independent on purpose, so the scores measure the model and not the
// renderer's quirks: shapes are signed distance fields with linear
// anti-aliasing (training fills polygons on a 4x sub-pixel grid), the shape
// parameters have their own ranges, the textures are sums of sine waves and
// Gaussian blobs (training uses upsampled value noise), and the random numbers
// come from sfc32 (training uses numpy's PCG64).
import sharp from "sharp";

export const SCENE_SHAPES = ["circle", "square", "triangle", "star", "cross", "ring"] as const;
export type SceneShape = (typeof SCENE_SHAPES)[number];

/** In-range conditions: one shape, and the label the model must give it. */
export const IN_RANGE_CONDITIONS = ["plain", "small", "thick_outline", "thin_outline", "non_square", "textured", "low_contrast"] as const;
/** Out-of-distribution conditions: no single shape; the model must flag them. */
export const OOD_CONDITIONS = ["flat", "gradient", "texture", "noise", "two_shapes"] as const;
export type Condition = (typeof IN_RANGE_CONDITIONS)[number] | (typeof OOD_CONDITIONS)[number];

export interface Scene {
  /** The label a correct model gives; undefined for OOD scenes (must be flagged). */
  expected: SceneShape | undefined;
  bytes: Buffer;
  contentType: string;
}

type RGB = [number, number, number];

/** sfc32: small, fast, seeded; unrelated to the training renderer's generator. */
class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.next() * list.length)]!;
  }
  gauss(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }
}

const lumaOf = (c: RGB) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

/** Two colours whose luma differs by lo..hi (0..255). */
function colours(rng: Sfc32, lo: number, hi: number): [RGB, RGB] {
  for (;;) {
    const fg: RGB = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
    const bg: RGB = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
    const d = Math.abs(lumaOf(fg) - lumaOf(bg));
    if (d >= lo && d <= hi) return [fg, bg];
  }
}

// ---- shapes as signed distances (negative inside), unit circumradius

type Sdf = (x: number, y: number) => number;

function polygonSdf(points: [number, number][]): Sdf {
  return (x, y) => {
    let d = Infinity;
    let inside = false;
    for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
      const [ax, ay] = points[j]!;
      const [bx, by] = points[i]!;
      const ex = bx - ax;
      const ey = by - ay;
      const t = Math.max(0, Math.min(1, ((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey)));
      d = Math.min(d, Math.hypot(x - ax - t * ex, y - ay - t * ey));
      if (ay > y !== by > y && x < ((bx - ax) * (y - ay)) / (by - ay) + ax) inside = !inside;
    }
    return inside ? -d : d;
  };
}

function regular(n: number, phase: number, radii: (i: number) => number = () => 1): [number, number][] {
  return Array.from({ length: n }, (_, i) => {
    const a = phase + (2 * Math.PI * i) / n;
    return [radii(i) * Math.cos(a), radii(i) * Math.sin(a)] as [number, number];
  });
}

function shapeSdf(shape: SceneShape, rng: Sfc32): Sdf {
  switch (shape) {
    case "circle":
      return (x, y) => Math.hypot(x, y) - 1;
    case "ring": {
      const inner = rng.range(0.45, 0.85);
      return (x, y) => Math.abs(Math.hypot(x, y) - (1 + inner) / 2) - (1 - inner) / 2;
    }
    case "square":
      return polygonSdf(regular(4, Math.PI / 4));
    case "triangle":
      return polygonSdf(regular(3, -Math.PI / 2));
    case "star": {
      const inner = rng.range(0.4, 0.52);
      return polygonSdf(regular(10, -Math.PI / 2, (i) => (i % 2 === 0 ? 1 : inner)));
    }
    case "cross": {
      const w = rng.range(0.22, 0.32);
      const l = Math.sqrt(1 - w * w);
      return polygonSdf([
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
      ]);
    }
  }
}

interface Placed {
  /** Signed distance in canvas pixels (approximate under stretching). */
  sd: Sdf;
  /** Stroke width in pixels for an outline; undefined for a filled shape. */
  stroke?: number;
  fg: RGB;
}

/** Places a shape of circumradius r (pixels) at (cx, cy), rotated and slightly stretched. */
function place(shape: SceneShape, rng: Sfc32, cx: number, cy: number, r: number): Sdf {
  const local = shapeSdf(shape, rng);
  const stretch = Math.exp(rng.range(-0.15, 0.15));
  const sx = r * stretch;
  const sy = r / stretch;
  const th = rng.range(0, 2 * Math.PI);
  const c = Math.cos(th);
  const s = Math.sin(th);
  return (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    return local((dx * c + dy * s) / sx, (-dx * s + dy * c) / sy) * Math.min(sx, sy);
  };
}

// ---- backgrounds

type Field = (x: number, y: number) => RGB;

function flat(c: RGB): Field {
  return () => c;
}

function gradient(rng: Sfc32, a: RGB, w: number, h: number, spread: number): Field {
  const b: RGB = a.map((v) => v + rng.range(-spread, spread)) as RGB;
  const phi = rng.range(0, 2 * Math.PI);
  const span = Math.max(w, h);
  return (x, y) => {
    const t = Math.max(0, Math.min(1, ((x - w / 2) * Math.cos(phi) + (y - h / 2) * Math.sin(phi)) / span + 0.5));
    return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
  };
}

/** Sum of a few sine waves and Gaussian blobs around colour c: a plasma-like texture. */
function plasma(rng: Sfc32, c: RGB, w: number, h: number, amplitude: number): Field {
  const size = Math.max(w, h);
  const waves = Array.from({ length: 4 }, () => ({ k: (2 * Math.PI) / (size * rng.range(0.08, 0.5)), phi: rng.range(0, Math.PI), off: rng.range(0, 6.3) }));
  const blobs = Array.from({ length: 6 }, () => ({ x: rng.range(0, w), y: rng.range(0, h), s: size * rng.range(0.05, 0.25), a: rng.range(-1, 1) }));
  const tint: RGB = [rng.range(0.3, 1), rng.range(0.3, 1), rng.range(0.3, 1)];
  return (x, y) => {
    let v = 0;
    for (const q of waves) v += Math.sin(q.k * (x * Math.cos(q.phi) + y * Math.sin(q.phi)) + q.off) / 4;
    for (const b of blobs) v += b.a * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (2 * b.s * b.s));
    return [c[0] + v * amplitude * tint[0], c[1] + v * amplitude * tint[1], c[2] + v * amplitude * tint[2]];
  };
}

// ---- drawing

function draw(w: number, h: number, bg: Field, shapes: Placed[], rng: Sfc32, noise: number, grain = 0): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      let c = bg(px, py);
      for (const s of shapes) {
        const d = s.stroke === undefined ? s.sd(px, py) : Math.abs(s.sd(px, py)) - s.stroke / 2;
        const a = Math.max(0, Math.min(1, 0.5 - d));
        if (a > 0) c = [c[0] + (s.fg[0] - c[0]) * a, c[1] + (s.fg[1] - c[1]) * a, c[2] + (s.fg[2] - c[2]) * a];
      }
      const g = grain ? rng.gauss() * grain : 0;
      for (let k = 0; k < 3; k++) out[(y * w + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(c[k]! + g + rng.gauss() * noise)));
    }
  }
  return out;
}

async function encode(pixels: Uint8Array, w: number, h: number, rng: Sfc32): Promise<{ bytes: Buffer; contentType: string }> {
  const img = sharp(Buffer.from(pixels), { raw: { width: w, height: h, channels: 3 } });
  if (rng.next() < 0.3) return { bytes: await img.jpeg({ quality: rng.int(60, 92) }).toBuffer(), contentType: "image/jpeg" };
  return { bytes: await img.png().toBuffer(), contentType: "image/png" };
}

/**
 * Scene `index` of `condition` (deterministic in both). In-range scenes cycle
 * through the six shapes; outline conditions through circle..cross.
 */
export async function renderScene(condition: Condition, index: number): Promise<Scene> {
  const rng = new Sfc32(hash(condition) ^ Math.imul(index + 1, 0x85ebca6b));
  const noise = rng.range(0, 6);
  if ((OOD_CONDITIONS as readonly string[]).includes(condition)) return ood(condition, rng, noise);

  const outline = condition === "thick_outline" || condition === "thin_outline";
  const shape: SceneShape = outline ? SCENE_SHAPES[index % 5]! : SCENE_SHAPES[index % 6]!;
  let w = rng.int(64, 128);
  let h = w;
  if (condition === "non_square") {
    const ratio = rng.range(1.5, 3);
    if (rng.next() < 0.5) h = Math.round(w / ratio);
    else [w, h] = [Math.round(w / ratio), w];
  }
  const short = Math.min(w, h);
  const r = (condition === "small" ? rng.range(0.1, 0.2) : rng.range(0.25, 0.45)) * short;
  const [fg, base] = condition === "low_contrast" ? colours(rng, 15, 35) : colours(rng, 60, 200);
  const bg = condition === "textured" ? plasma(rng, base, w, h, rng.range(25, 50)) : rng.next() < 0.5 ? flat(base) : gradient(rng, base, w, h, 30);
  const cx = rng.range(r + 1, w - r - 1);
  const cy = rng.range(r + 1, h - r - 1);
  const placed: Placed = { sd: place(shape, rng, cx, cy, r), fg };
  if (condition === "thick_outline") placed.stroke = r * rng.range(0.2, 0.35);
  if (condition === "thin_outline") placed.stroke = Math.max(1.5, r * rng.range(0.06, 0.12));
  const pixels = draw(w, h, bg, [placed], rng, noise);
  const expected = outline && shape === "circle" ? "ring" : shape;
  return { expected, ...(await encode(pixels, w, h, rng)) };
}

async function ood(condition: Condition, rng: Sfc32, noise: number): Promise<Scene> {
  const w = rng.int(64, 128);
  const h = rng.next() < 0.3 ? rng.int(48, 128) : w;
  const [fg, base] = colours(rng, 60, 200);
  let bg: Field;
  const shapes: Placed[] = [];
  let grain = 0;
  switch (condition) {
    case "flat":
      bg = flat(base);
      break;
    case "gradient":
      bg = gradient(rng, base, w, h, 120);
      break;
    case "texture":
      bg = plasma(rng, base, w, h, rng.range(60, 140));
      grain = rng.range(0, 20);
      break;
    case "noise":
      bg = flat(base);
      grain = rng.range(40, 90);
      break;
    default: {
      bg = rng.next() < 0.5 ? flat(base) : gradient(rng, base, w, h, 30);
      const short = Math.min(w, h);
      const r = rng.range(0.14, 0.22) * short;
      const centres: [number, number][] = [];
      const count = rng.int(2, 3);
      for (let tries = 0; centres.length < count && tries < 200; tries++) {
        const c: [number, number] = [rng.range(r + 1, w - r - 1), rng.range(r + 1, h - r - 1)];
        if (centres.every(([x, y]) => Math.hypot(x - c[0], y - c[1]) > 2 * r + 3)) centres.push(c);
      }
      if (centres.length < 2) centres.splice(0, centres.length, [w * 0.25, h / 2], [w * 0.75, h / 2]);
      for (const [x, y] of centres)
        shapes.push({ sd: place(rng.pick(SCENE_SHAPES), rng, x, y, Math.min(r, w / 4 - 2)), fg: rng.next() < 0.5 ? fg : colours(rng, 60, 200)[0] });
    }
  }
  const pixels = draw(w, h, bg, shapes, rng, noise, grain);
  return { expected: undefined, ...(await encode(pixels, w, h, rng)) };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
