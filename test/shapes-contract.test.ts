// What a client needs to use the shapes model correctly, through the real
// server: GetModelMetadata names its labels, its reject rule, how images are
// fitted (letterboxed, with the padding colour), the images it accepts and
// the card's headline figures; ClassifyImage says explicitly when an image has no single shape;
// and the preprocessing keeps the aspect ratio as the config asks.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { ImagePreprocessing } from "../src/engine/model-config.js";
import { preprocessImage } from "../src/models/image-preprocess.js";
import { renderScene } from "./support/shape-scenes.js";
import { AUTH_HEADERS, serverWithClient } from "./support/prediction-client.js";

const headers = AUTH_HEADERS;
const { client } = serverWithClient();

describe("shapes model contract", () => {
  it("GetModelMetadata gives the labels, the reject rule, the image fitting and the headline metrics", async () => {
    const meta = await client().getModelMetadata({ name: "shapes" }, { headers });
    expect(meta.model?.defaultVersion).toBe("2");
    expect(meta.labels).toEqual(["circle", "square", "triangle", "star", "cross", "ring", "other"]);
    expect(meta.reject?.label).toBe("other");
    expect(meta.reject?.minScore).toBeGreaterThan(0);
    expect(meta.reject?.minScore).toBeLessThan(1);
    expect(meta.imageInput).toMatchObject({ width: 64, height: 64, resize: "contain", padRgb: [127, 127, 127] });
    // What the server accepts, at its default limits.
    expect(meta.imageInput).toMatchObject({ contentTypes: ["image/jpeg", "image/png", "image/webp"], maxBytes: 10n * 1024n * 1024n, maxPixels: 40_000_000n });
    expect(meta.headlineMetrics).toEqual(["val_in_range_accuracy", "val_reject_flagged"]);
    for (const key of [
      "val_in_range_accuracy",
      "val_reject_flagged",
      "robust_small",
      "robust_non_square",
      "robust_textured",
      "robust_low_contrast",
      "robust_ood_flagged",
      "robust_in_range_flagged",
    ]) {
      expect(meta.metrics[key], key).toBeGreaterThanOrEqual(0);
      expect(meta.metrics[key], key).toBeLessThanOrEqual(1);
    }
  });

  it("GetModelMetadata leaves the reject rule and image fitting unset for the loan model", async () => {
    const meta = await client().getModelMetadata({ name: "loan-approval" }, { headers });
    expect(meta.reject).toBeUndefined();
    expect(meta.imageInput).toBeUndefined();
  });

  it("ClassifyImage answers a single shape unrejected and a flat image rejected", async () => {
    const star = await renderScene("plain", 20_001); // index mod 6 = 3: a star
    expect(star.expected).toBe("star");
    const flat = await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 40, g: 160, b: 90 } } })
      .png()
      .toBuffer();
    const a = (await client().classifyImage({ image: star.bytes, contentType: star.contentType, modelName: "shapes", topK: 2 }, { headers })).classification!;
    const b = (await client().classifyImage({ image: flat, contentType: "image/png", modelName: "shapes", topK: 2 }, { headers })).classification!;
    expect([a.labels[0]?.label, a.rejected]).toEqual(["star", false]);
    expect(b.rejected, b.labels.map((l) => `${l.label}=${l.score.toFixed(3)}`).join(" ")).toBe(true);
  });
});

describe("letterboxing", () => {
  const pre: ImagePreprocessing = {
    width: 8,
    height: 8,
    resize: "contain",
    pad_rgb: [10, 20, 30],
    layout: "NCHW",
    channel_order: "RGB",
    scale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    output: "probabilities",
  };
  const limits = { maxBytes: 1 << 20, maxPixels: 1 << 20 };
  const wide = () =>
    sharp({ create: { width: 32, height: 16, channels: 3, background: { r: 200, g: 0, b: 0 } } })
      .png()
      .toBuffer();
  /** Channel c of pixel (x, y) in an 8x8 NCHW tensor. */
  const at = (t: Float32Array, c: number, x: number, y: number) => t[c * 64 + y * 8 + x];

  it("keeps the aspect ratio: a 2:1 image fills the middle rows, the pad colour the rest", async () => {
    const { data, dims } = await preprocessImage(await wide(), "image/png", pre, limits);
    expect(dims).toEqual([1, 3, 8, 8]);
    expect([0, 1, 2].map((c) => at(data, c, 4, 0))).toEqual([10, 20, 30]);
    expect([0, 1, 2].map((c) => at(data, c, 4, 7))).toEqual([10, 20, 30]);
    expect([0, 1, 2].map((c) => at(data, c, 4, 4))).toEqual([200, 0, 0]);
  });

  it("stretches instead when the config says fill", async () => {
    const { data } = await preprocessImage(await wide(), "image/png", { ...pre, resize: "fill" }, limits);
    expect([0, 1, 2].map((c) => at(data, c, 4, 0))).toEqual([200, 0, 0]);
  });
});
