// Checks the committed `shapes` image classifier (models/shapes) against the
// interface the server relies on (config, labels, tensor names and shapes,
// probabilities) and against images it never saw: PNGs that
// test/support/shape-images.ts draws at test time with seeds training never
// used, preprocessed exactly as models/shapes/config.json says.
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readModelConfig, type ImagePreprocessing, type ModelConfig } from "../src/engine/model-config.js";
import { preprocessImage } from "../src/models/image-preprocess.js";
import { renderShape, SHAPE_LABELS } from "./support/shape-images.js";

const MODEL_DIR = fileURLToPath(new URL("../models/shapes/", import.meta.url));

let config: ModelConfig;
let pre: ImagePreprocessing;
let labels: string[];
let session: ort.InferenceSession;

/** The server's own preprocessing (one implementation), into row `row` of a batch. */
async function preprocessInto(image: Buffer, out: Float32Array, row: number): Promise<void> {
  const { data } = await preprocessImage(image, "image/png", pre, { maxBytes: 10 * 2 ** 20, maxPixels: 40_000_000 });
  out.set(data, row * data.length);
}

async function classify(images: Buffer[]): Promise<number[][]> {
  const input = new Float32Array(images.length * 3 * pre.width * pre.height);
  await Promise.all(images.map((img, i) => preprocessInto(img, input, i)));
  const dims = pre.layout === "NCHW" ? [images.length, 3, pre.height, pre.width] : [images.length, pre.height, pre.width, 3];
  const result = await session.run({ [config.inputs[0]!.name]: new ort.Tensor("float32", input, dims) });
  const out = result[config.outputs[0]!.name]!;
  expect(out.dims).toEqual([images.length, labels.length]);
  const values = out.data as Float32Array;
  return Array.from({ length: images.length }, (_, i) => {
    const row = Array.from(values.subarray(i * labels.length, (i + 1) * labels.length));
    if (pre.output === "probabilities") return row;
    const max = Math.max(...row);
    const exp = row.map((v) => Math.exp(v - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    return exp.map((v) => v / sum);
  });
}

const argmax = (row: number[]) => row.indexOf(Math.max(...row));

/** Renders `perLabel` images of every label and reports accuracy and the confusion matrix. */
async function evaluate(perLabel: number, seedBase: number, size?: (i: number) => number) {
  const truth: number[] = [];
  const images: Buffer[] = [];
  for (const [li, label] of SHAPE_LABELS.entries()) {
    for (let i = 0; i < perLabel; i++) {
      images.push(await renderShape(label, seedBase + li * 1000 + i, size?.(i)));
      truth.push(labels.indexOf(label));
    }
  }
  const probs = await classify(images);
  const confusion = labels.map(() => labels.map(() => 0));
  let correct = 0;
  probs.forEach((row, i) => {
    const p = argmax(row);
    confusion[truth[i]!]![p]!++;
    if (p === truth[i]) correct++;
  });
  const table = [
    `confusion (rows: true, cols: predicted)`,
    `${"".padEnd(10)}${labels.map((l) => l.slice(0, 8).padStart(9)).join("")}`,
    ...labels.map((l, i) => `${l.padEnd(10)}${confusion[i]!.map((v) => String(v).padStart(9)).join("")}`),
  ].join("\n");
  return { accuracy: correct / images.length, correct, total: images.length, table, probs };
}

beforeAll(async () => {
  config = await readModelConfig(MODEL_DIR);
  pre = config.preprocessing!.image!;
  labels = config.labels!;
  session = await ort.InferenceSession.create(`${MODEL_DIR}2/model.onnx`, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
});

afterAll(async () => {
  await session?.release();
});

describe("shapes model artifact", () => {
  it("config, labels and the ONNX graph agree on the interface", () => {
    expect(config.name).toBe("shapes");
    expect(config.task).toBe("image_classification");
    expect(labels).toEqual([...SHAPE_LABELS, "other"]);
    expect(config.reject?.label).toBe("other");
    expect(config.inputs).toEqual([{ name: "image", dtype: "float32", shape: [-1, 3, 64, 64] }]);
    expect(config.outputs).toEqual([{ name: "probabilities", dtype: "float32", shape: [-1, labels.length] }]);
    expect(pre).toMatchObject({ width: 64, height: 64, resize: "contain", layout: "NCHW", channel_order: "RGB", scale: 255, output: "probabilities" });
    for (const v of [...pre.mean, ...pre.std]) expect(v).toBeGreaterThan(0);
    expect(pre.pad_rgb).toHaveLength(3);
    expect(session.inputNames).toEqual(["image"]);
    expect(session.outputNames).toEqual(["probabilities"]);
  });

  it("returns one probability row per image, for batches of 1 and many", async () => {
    const one = await classify([await renderShape("star", 77_001)]);
    expect(one).toHaveLength(1);
    const many = await classify(await Promise.all([1, 2, 3, 4, 5].map((i) => renderShape("ring", 77_100 + i))));
    expect(many).toHaveLength(5);
    for (const row of [...one, ...many]) {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      for (const p of row) expect(p).toBeGreaterThanOrEqual(0);
    }
  });

  it("classifies unseen test-time renders (10 per class, 96x96) with >= 90% accuracy", async () => {
    const r = await evaluate(10, 500_000);
    console.log(`shapes: TS-rendered 96x96 accuracy ${(r.accuracy * 100).toFixed(1)}% (${r.correct}/${r.total})`);
    expect(r.accuracy, `accuracy ${r.correct}/${r.total}\n${r.table}`).toBeGreaterThanOrEqual(0.9);
  });

  it("still classifies renders of other sizes (48..200 px) that the server resizes to 64x64", async () => {
    const sizes = [48, 64, 80, 128, 200];
    const r = await evaluate(5, 700_000, (i) => sizes[i % sizes.length]!);
    console.log(`shapes: TS-rendered mixed-size accuracy ${(r.accuracy * 100).toFixed(1)}% (${r.correct}/${r.total})`);
    expect(r.accuracy, `accuracy ${r.correct}/${r.total}\n${r.table}`).toBeGreaterThanOrEqual(0.9);
  });
});
