// Turns encoded image bytes into the model's input tensor, as the model's
// config says: decode (sharp), EXIF orientation, colour space, resize, then
// normalize into NCHW or NHWC, RGB or BGR. Refuses what it cannot safely use
// before decoding it: wrong type, too many bytes, too many pixels.
import sharp from "sharp";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ImageLimits } from "../config.js";
import type { ImagePreprocessing } from "../engine/model-config.js";

export const ACCEPTED_TYPES: Record<string, string> = { "image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp" };

/** An image the server will not use; the code says whose fault it is. */
export function imageRejected(message: string, code: Code = Code.InvalidArgument): ConnectError {
  return new ConnectError(message, code);
}

/** One image's tensor: [1, 3, H, W] or [1, H, W, 3] float32. */
export async function preprocessImage(
  bytes: Uint8Array,
  contentType: string,
  pre: ImagePreprocessing,
  limits: Pick<ImageLimits, "maxBytes" | "maxPixels">,
): Promise<{ data: Float32Array; dims: number[] }> {
  const declared = ACCEPTED_TYPES[contentType.toLowerCase().split(";")[0].trim()];
  if (!declared) throw imageRejected(`content_type names an unsupported format (${formatOf(contentType)}) - send a JPEG or PNG or WebP image`);
  if (bytes.length === 0) throw imageRejected("the image has no bytes");
  if (bytes.length > limits.maxBytes) throw imageRejected(`the image is ${bytes.length} bytes - the limit is ${limits.maxBytes}`, Code.ResourceExhausted);

  // sharp reads only the header here; the pixel limit is checked before any decoding.
  // The header is read with sharp's own pixel limit off: with it on, metadata()
  // throws on a too-large image, which would be reported as unreadable
  // (INVALID_ARGUMENT) instead of as over the limit (RESOURCE_EXHAUSTED).
  const image = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: "warning" });
  let meta: sharp.Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, failOn: "warning" }).metadata();
  } catch {
    throw imageRejected(`the bytes are not a readable ${declared.toUpperCase()} image`);
  }
  if (meta.format !== declared)
    throw imageRejected(`the bytes are ${(meta.format ?? "of an unknown format").toUpperCase()} but content_type says ${declared.toUpperCase()}`);
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > limits.maxPixels) {
    throw imageRejected(`the image is ${meta.width}x${meta.height} pixels - the limit is ${limits.maxPixels} pixels`, Code.ResourceExhausted);
  }

  let raw: Buffer;
  try {
    raw = await image
      .rotate() // EXIF orientation
      .toColourspace("srgb")
      .removeAlpha()
      .resize(pre.width, pre.height, { fit: FIT[pre.resize] ?? "fill", position: "centre", background: padColour(pre) })
      .raw()
      .toBuffer();
  } catch {
    throw imageRejected(`the ${declared.toUpperCase()} image is truncated or corrupt`);
  }
  return { data: normalize(raw, pre), dims: pre.layout === "NHWC" ? [1, pre.height, pre.width, 3] : [1, 3, pre.height, pre.width] };
}

/**
 * The format part of a content type for an error message ("image/gif" → "gif").
 * Messages avoid "/" and other URI-reserved characters: grpc-js shows them
 * percent-encoded (docs/design.md, "Error messages").
 */
function formatOf(contentType: string): string {
  const type = contentType.split(";")[0].trim();
  const name = type
    .slice(type.lastIndexOf("/") + 1)
    .replace(/[^A-Za-z0-9.-]/g, "")
    .slice(0, 32);
  return name || "none";
}

/** The letterbox colour ("contain"), opaque; black when the config names none. */
function padColour(pre: ImagePreprocessing): { r: number; g: number; b: number; alpha: number } {
  const [r, g, b] = pre.pad_rgb ?? [0, 0, 0];
  return { r, g, b, alpha: 1 };
}

const FIT: Record<ImagePreprocessing["resize"], keyof sharp.FitEnum> = { fill: "fill", cover: "cover", contain: "contain" };

/** HWC uint8 RGB → float32, (v / scale − mean) / std, in the layout and channel order the model wants. */
export function normalize(rgb: Uint8Array, pre: ImagePreprocessing): Float32Array {
  const plane = pre.width * pre.height;
  const out = new Float32Array(plane * 3);
  const order = pre.channel_order === "BGR" ? [2, 1, 0] : [0, 1, 2];
  // One tight loop per output channel, with the layout decided outside it:
  // this runs on the event loop for every image (150,528 values at 224x224).
  for (let c = 0; c < 3; c++) {
    const src = order[c];
    const k = 1 / (pre.scale * pre.std[c]);
    const m = pre.mean[c] / pre.std[c];
    if (pre.layout === "NHWC") {
      for (let p = 0, i = src, o = c; p < plane; p++, i += 3, o += 3) out[o] = rgb[i] * k - m;
    } else {
      for (let p = 0, i = src, o = c * plane; p < plane; p++, i += 3, o++) out[o] = rgb[i] * k - m;
    }
  }
  return out;
}
