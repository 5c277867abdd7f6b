// A model's config.json is checked at load, so a typo fails that load with a
// message naming it instead of serving wrong answers.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readModelConfig } from "../src/engine/model-config.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The fields of config.json these tests edit, each open to a wrong value. */
interface EditableConfig {
  name: unknown;
  batching: { max_batch_size: unknown };
  session: { execution: unknown };
  reject: { min_score: unknown; label: unknown };
  inputs: { shape: unknown }[];
  headline_metrics: unknown;
  preprocessing: { image: { resize: unknown; layout: unknown; std?: unknown; pad_rgb: unknown; width: unknown } };
}

/** A copy of the shipped shapes model's config (and labels) in `<tmp>/<dirName>`, edited by `edit`. */
function shapesConfig(edit: (c: EditableConfig) => void, dirName = "shapes"): string {
  const root = mkdtempSync(join(tmpdir(), "cfg-"));
  dirs.push(root);
  const dir = join(root, dirName);
  cpSync("models/shapes", dir, { recursive: true, filter: (src) => !src.endsWith(".onnx") });
  const config = JSON.parse(readFileSync("models/shapes/config.json", "utf8"));
  edit(config);
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  return dir;
}

describe("readModelConfig", () => {
  it("reads the shipped configs, with defaults and labels", async () => {
    const shapes = await readModelConfig("models/shapes");
    expect(shapes.labels).toEqual(["circle", "square", "triangle", "star", "cross", "ring", "other"]);
    expect(shapes.reject).toEqual({ label: "other", min_score: 0.4 });
    expect(shapes.headline_metrics).toEqual(["val_in_range_accuracy", "val_reject_flagged"]);
    const loan = await readModelConfig("models/loan-approval");
    expect(loan.batching.max_batch_size).toBe(2048);
    const bare = await readModelConfig(
      shapesConfig((c: { batching?: unknown; session?: unknown }) => {
        delete c.batching;
        delete c.session;
      }),
    );
    expect(bare.batching).toEqual({ max_batch_size: 64, max_queue_delay_us: 0, max_queue_rows: 1024 });
    expect(bare.session).toEqual({ intra_op_threads: 1, graph_optimization_level: "all", execution: "worker" });
  });

  it.each<[string, (c: EditableConfig) => unknown, string]>([
    ["a name other than its directory's", (c) => (c.name = "other"), `"name" is "other" but the directory is "shapes"`],
    ["an unknown resize mode", (c) => (c.preprocessing.image.resize = "stretch"), "preprocessing.image.resize must be one of fill cover contain"],
    ["a lowercase layout", (c) => (c.preprocessing.image.layout = "nchw"), "preprocessing.image.layout must be one of NCHW NHWC"],
    ["a missing std", (c) => delete c.preprocessing.image.std, "preprocessing.image.std needs 3 numbers"],
    ["a zero std", (c) => (c.preprocessing.image.std = [0.2, 0, 0.2]), "std values must be > 0"],
    ["a pad colour out of range", (c) => (c.preprocessing.image.pad_rgb = [0, 256, 0]), "preprocessing.image.pad_rgb needs 3 integers in 0..255"],
    ["a reject threshold above 1", (c) => (c.reject.min_score = 1.5), "reject.min_score must be a number in 0..1"],
    ["a reject label not in the labels file", (c) => (c.reject.label = "none"), 'reject.label "none" is not in the labels file'],
    ["a size that does not match the input", (c) => (c.preprocessing.image.width = 32), "preprocessing makes [-1,3,64,32]"],
    ["an input without a dynamic batch", (c) => (c.inputs[0].shape = [1, 3, 64, 64]), "must have a dynamic batch dimension first"],
    ["a zero max_batch_size", (c) => (c.batching.max_batch_size = 0), "batching.max_batch_size must be an integer >= 1"],
    ["more than 3 headline metrics", (c) => (c.headline_metrics = ["a", "b", "c", "d"]), "headline_metrics must list at most 3 metrics.json keys"],
    ["an empty headline metric", (c) => (c.headline_metrics = [""]), "headline_metrics must list at most 3 metrics.json keys"],
    ["an unknown execution", (c) => (c.session.execution = "thread"), 'session.execution must be "worker" or "event_loop" (got "thread")'],
  ])("refuses %s, naming the file and the problem", async (_name, edit, message) => {
    const dir = shapesConfig(edit);
    await expect(readModelConfig(dir)).rejects.toThrow(message);
    await expect(readModelConfig(dir)).rejects.toThrow(join(dir, "config.json"));
  });
});
