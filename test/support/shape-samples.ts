// Test images the `shapes` model never saw: drawn at test time
// (shape-images.ts) with seeds from 900000 on, encoded as PNG, JPEG or WebP,
// and cached per test file.
import sharp from "sharp";
import { renderShape, SHAPE_LABELS, type ShapeLabel } from "./shape-images.js";

/** First seed of the test images; training used other seeds (and another generator). */
const SEED = 900_000;

export type Format = "png" | "jpeg" | "webp";

export interface Sample {
  label: ShapeLabel;
  bytes: Buffer;
  contentType: string;
}

const cache = new Map<string, Promise<Sample>>();

/** The k-th test image of `label`, 96x96 unless told, as PNG, JPEG or WebP. */
export function sample(label: ShapeLabel, k: number, format: Format = "png", size = 96): Promise<Sample> {
  const key = `${label}/${k}/${format}/${size}`;
  let s = cache.get(key);
  if (!s) {
    s = (async () => {
      const png = await renderShape(label, SEED + SHAPE_LABELS.indexOf(label) * 100 + k, size);
      const bytes =
        format === "png" ? png : format === "jpeg" ? await sharp(png).jpeg({ quality: 90 }).toBuffer() : await sharp(png).webp({ quality: 90 }).toBuffer();
      return { label, bytes, contentType: `image/${format}` };
    })();
    cache.set(key, s);
  }
  return s;
}
