// A model's config.json in the repository: its tensors, how requests map onto
// them, its preprocessing, batching and ONNX Runtime session knobs. Read and
// checked once per load; a bad config fails that load with a clear message.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface TensorSpec {
  name: string;
  dtype: string;
  /** -1 marks a dynamic dimension (the batch, always first). */
  shape: number[];
  /** Tabular inputs: the request field feeding each column. */
  columns?: string[];
}

export interface FactorSpec {
  feature: string;
  raises_approval: string;
  lowers_approval: string;
}

export interface ImagePreprocessing {
  width: number;
  height: number;
  /** "fill" stretches, "cover" center-crops, "contain" letterboxes. */
  resize: "fill" | "cover" | "contain";
  layout: "NCHW" | "NHWC";
  channel_order: "RGB" | "BGR";
  /** Pixel values are divided by this before mean/std (255 maps to 0..1). */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** What the output holds: probabilities, or logits that need a softmax. */
  output: "probabilities" | "logits";
}

export interface BatchingConfig {
  max_batch_size: number;
  max_queue_delay_us: number;
  max_queue_rows: number;
}

export interface SessionConfig {
  intra_op_threads: number;
  graph_optimization_level: "disabled" | "basic" | "extended" | "all";
}

export interface ModelConfig {
  name: string;
  task: string;
  description: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  factors?: FactorSpec[];
  labels_file?: string;
  preprocessing?: { image?: ImagePreprocessing };
  batching: BatchingConfig;
  session: SessionConfig;
  /** Labels read from labels_file, in output order. */
  labels?: string[];
}

export const DEFAULT_BATCHING: BatchingConfig = { max_batch_size: 64, max_queue_delay_us: 0, max_queue_rows: 1024 };
export const DEFAULT_SESSION: SessionConfig = { intra_op_threads: 1, graph_optimization_level: "all" };

/** Reads `<modelDir>/config.json` (and its labels file), filling defaults. */
export async function readModelConfig(modelDir: string): Promise<ModelConfig> {
  const path = join(modelDir, "config.json");
  let raw: Partial<ModelConfig>;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  const problems = checkConfig(raw);
  if (problems.length > 0) throw new Error(`${path}: ${problems.join("; ")}`);
  const config: ModelConfig = {
    ...(raw as ModelConfig),
    description: raw.description ?? "",
    batching: { ...DEFAULT_BATCHING, ...raw.batching },
    session: { ...DEFAULT_SESSION, ...raw.session },
  };
  if (config.labels_file) {
    const labelsPath = join(modelDir, config.labels_file);
    try {
      config.labels = (await readFile(labelsPath, "utf8")).split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
    } catch (e) {
      throw new Error(`${labelsPath}: ${(e as Error).message}`);
    }
  }
  return config;
}

function checkConfig(c: Partial<ModelConfig>): string[] {
  const out: string[] = [];
  if (typeof c.name !== "string" || c.name === "") out.push(`"name" is required`);
  if (typeof c.task !== "string" || c.task === "") out.push(`"task" is required`);
  for (const key of ["inputs", "outputs"] as const) {
    const list = c[key];
    if (!Array.isArray(list) || list.length === 0) {
      out.push(`"${key}" must list at least one tensor`);
      continue;
    }
    for (const t of list) {
      if (typeof t?.name !== "string" || !Array.isArray(t.shape)) out.push(`each of "${key}" needs "name" and "shape"`);
      else if (t.shape[0] !== -1) out.push(`${key} "${t.name}" must have a dynamic batch dimension first (-1)`);
    }
  }
  const b = c.batching;
  if (b?.max_batch_size !== undefined && !(Number.isInteger(b.max_batch_size) && b.max_batch_size >= 1)) out.push(`batching.max_batch_size must be an integer >= 1`);
  if (b?.max_queue_delay_us !== undefined && !(b.max_queue_delay_us >= 0)) out.push(`batching.max_queue_delay_us must be >= 0`);
  if (b?.max_queue_rows !== undefined && !(Number.isInteger(b.max_queue_rows) && b.max_queue_rows >= 1)) out.push(`batching.max_queue_rows must be an integer >= 1`);
  return out;
}
