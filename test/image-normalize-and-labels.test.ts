// The pure parts of the image path: pixels → input tensor (every layout and
// channel order), and scores → the best labels, each against the plainest
// possible reference implementation.
import { describe, expect, it } from "vitest";
import type { ImagePreprocessing } from "../src/engine/model-config.js";
import { normalize } from "../src/models/image-preprocess.js";
import { topIndices, topLabels } from "../src/models/image-labels.js";
import { Rng } from "./support/shape-images.js";

const base: ImagePreprocessing = {
  width: 5,
  height: 3,
  resize: "fill",
  layout: "NCHW",
  channel_order: "RGB",
  scale: 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  output: "logits",
};

describe("normalize", () => {
  const random = new Rng(7);
  const rgb = Uint8Array.from({ length: base.width * base.height * 3 }, () => random.int(0, 255));

  it.each([
    ["NCHW", "RGB"],
    ["NCHW", "BGR"],
    ["NHWC", "RGB"],
    ["NHWC", "BGR"],
  ] as const)("%s %s matches the definition value by value", (layout, order) => {
    const pre = { ...base, layout, channel_order: order };
    const out = normalize(rgb, pre);
    expect(out).toHaveLength(rgb.length);
    for (let y = 0; y < pre.height; y++) {
      for (let x = 0; x < pre.width; x++) {
        for (let c = 0; c < 3; c++) {
          const source = order === "BGR" ? 2 - c : c;
          const v = rgb[(y * pre.width + x) * 3 + source];
          const want = (v / pre.scale - pre.mean[c]) / pre.std[c];
          const at = layout === "NCHW" ? c * pre.width * pre.height + y * pre.width + x : (y * pre.width + x) * 3 + c;
          expect(out[at]).toBeCloseTo(want, 5);
        }
      }
    }
  });
});

describe("topLabels", () => {
  const byFullSort = (v: ArrayLike<number>, k: number) =>
    Array.from(v, (_, i) => i)
      .sort((a, b) => v[b] - v[a] || a - b)
      .slice(0, k);

  it("picks the same indices as a full sort, ties in index order, for every k", () => {
    const random = new Rng(11);
    // Few distinct values, so ties are everywhere.
    const values = Float32Array.from({ length: 200 }, () => random.int(0, 19));
    for (const k of [1, 2, 5, 17, 100, 199, 200]) expect(topIndices(values, k), `k=${k}`).toEqual(byFullSort(values, k));
    expect(topIndices(values, 0)).toEqual([]);
  });

  it("applies a softmax to logits, names the classes, and caps k at the number of classes", () => {
    const logits = [1, 3, 2, -1];
    const labels = ["a", "b", "c", "d"];
    const top = topLabels(logits, labels, 10, true);
    expect(top.map((l) => l.label)).toEqual(["b", "c", "a", "d"]);
    const exp = logits.map(Math.exp);
    const sum = exp.reduce((a, b) => a + b, 0);
    for (const l of top) expect(l.score).toBeCloseTo(exp[labels.indexOf(l.label)] / sum, 12);
    expect(top.reduce((a, l) => a + l.score, 0)).toBeCloseTo(1, 12);
  });

  it("keeps probabilities as given and falls back to the index for a class without a name", () => {
    expect(topLabels([0.1, 0.7, 0.2], ["x"], 2, false).map((l) => [l.label, l.score])).toEqual([
      ["1", expect.closeTo(0.7, 6)],
      ["2", expect.closeTo(0.2, 6)],
    ]);
  });

  it("stays finite for large logits", () => {
    const top = topLabels([1000, 999, -1000], ["a", "b", "c"], 3, true);
    expect(top.every((l) => Number.isFinite(l.score))).toBe(true);
    expect(top[0]!.label).toBe("a");
  });
});
