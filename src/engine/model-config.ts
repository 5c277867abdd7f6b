// A model's config.json in the repository: its tensors, how requests map onto
// them, its preprocessing, batching and ONNX Runtime session knobs. Read and
// checked once per load; a bad config fails that load with a clear message.
import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

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
  /** Letterbox padding colour for "contain", R G B in 0..255; black when absent. */
  pad_rgb?: [number, number, number];
  layout: "NCHW" | "NHWC";
  channel_order: "RGB" | "BGR";
  /** Pixel values are divided by this before mean/std (255 maps to 0..1). */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** What the output holds: probabilities, or logits that need a softmax. */
  output: "probabilities" | "logits";
}

/** When a classifier's answer is "none of these" (ImageClassification.rejected). */
export interface RejectConfig {
  /** The label meaning "not one of the others"; must be in the labels file. Optional. */
  label?: string;
  /** Best scores below this are rejected; 0..1, 0 for none. */
  min_score?: number;
}

export interface BatchingConfig {
  max_batch_size: number;
  max_queue_delay_us: number;
  max_queue_rows: number;
}

export interface SessionConfig {
  intra_op_threads: number;
  graph_optimization_level: "disabled" | "basic" | "extended" | "all";
  /**
   * Where the model runs: "worker" (an inference worker thread, the default)
   * or "event_loop" (on the server's own thread: only for models whose run at
   * max_batch_size rows takes under 5 ms; checked at load, and a slower model
   * runs in a worker with a warning).
   */
  execution: "worker" | "event_loop";
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
  reject?: RejectConfig;
  /** Keys of the versions' metrics.json that the model card puts first, most important first; at most MAX_HEADLINE_METRICS. */
  headline_metrics?: string[];
  batching: BatchingConfig;
  session: SessionConfig;
  /** Labels read from labels_file, in output order. */
  labels?: string[];
}

// A headline is what a model list shows at a glance: the card's two or three main figures, not all of them.
export const MAX_HEADLINE_METRICS = 3;

export const DEFAULT_BATCHING: BatchingConfig = { max_batch_size: 64, max_queue_delay_us: 0, max_queue_rows: 1024 };
export const DEFAULT_SESSION: SessionConfig = { intra_op_threads: 1, graph_optimization_level: "all", execution: "worker" };

/**
 * Reads `<modelDir>/config.json` (and its labels file), filling defaults.
 * The config's name must be its directory's: clients ask for a model by the
 * name its answers carry.
 */
export async function readModelConfig(modelDir: string): Promise<ModelConfig> {
  const path = join(modelDir, "config.json");
  let raw: Partial<ModelConfig>;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  const problems = checkConfig(raw);
  const dirName = basename(resolve(modelDir));
  if (typeof raw.name === "string" && raw.name !== dirName) problems.push(`"name" is "${raw.name}" but the directory is "${dirName}"`);
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
      config.labels = (await readFile(labelsPath, "utf8"))
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== "");
    } catch (e) {
      throw new Error(`${labelsPath}: ${(e as Error).message}`);
    }
  }
  const rejectLabel = config.reject?.label;
  if (rejectLabel !== undefined && !config.labels?.includes(rejectLabel)) throw new Error(`${path}: reject.label "${rejectLabel}" is not in the labels file`);
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
  if (b?.max_batch_size !== undefined && !(Number.isInteger(b.max_batch_size) && b.max_batch_size >= 1))
    out.push(`batching.max_batch_size must be an integer >= 1`);
  if (b?.max_queue_delay_us !== undefined && !(b.max_queue_delay_us >= 0)) out.push(`batching.max_queue_delay_us must be >= 0`);
  if (b?.max_queue_rows !== undefined && !(Number.isInteger(b.max_queue_rows) && b.max_queue_rows >= 1))
    out.push(`batching.max_queue_rows must be an integer >= 1`);
  const execution = c.session?.execution;
  if (execution !== undefined && execution !== "worker" && execution !== "event_loop")
    out.push(`session.execution must be "worker" or "event_loop" (got ${JSON.stringify(execution)})`);
  const image = c.preprocessing?.image;
  if (image) out.push(...checkImagePreprocessing(image, c.inputs?.[0]));
  const reject = c.reject;
  if (reject !== undefined) {
    if (reject.label !== undefined && (typeof reject.label !== "string" || reject.label === "")) out.push(`reject.label must be a non-empty string`);
    if (reject.min_score !== undefined && !(typeof reject.min_score === "number" && reject.min_score >= 0 && reject.min_score <= 1))
      out.push(`reject.min_score must be a number in 0..1`);
  }
  const headline = c.headline_metrics;
  if (
    headline !== undefined &&
    !(Array.isArray(headline) && headline.length <= MAX_HEADLINE_METRICS && headline.every((k) => typeof k === "string" && k !== ""))
  )
    out.push(`headline_metrics must list at most ${MAX_HEADLINE_METRICS} metrics.json keys`);
  return out;
}

function checkImagePreprocessing(p: Partial<ImagePreprocessing>, input: TensorSpec | undefined): string[] {
  const out: string[] = [];
  const oneOf = (key: keyof ImagePreprocessing, allowed: readonly string[]) => {
    if (!allowed.includes(p[key] as string)) out.push(`preprocessing.image.${key} must be one of ${allowed.join(" ")} (got ${JSON.stringify(p[key])})`);
  };
  oneOf("resize", ["fill", "cover", "contain"]);
  oneOf("layout", ["NCHW", "NHWC"]);
  oneOf("channel_order", ["RGB", "BGR"]);
  oneOf("output", ["probabilities", "logits"]);
  for (const key of ["width", "height"] as const) {
    if (!(Number.isInteger(p[key]) && (p[key] as number) > 0)) out.push(`preprocessing.image.${key} must be a positive integer`);
  }
  if (!(typeof p.scale === "number" && p.scale > 0)) out.push(`preprocessing.image.scale must be > 0`);
  for (const key of ["mean", "std"] as const) {
    const v = p[key];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== "number" || !Number.isFinite(x)))
      out.push(`preprocessing.image.${key} needs 3 numbers`);
  }
  if (Array.isArray(p.std) && p.std.some((x) => x <= 0)) out.push(`preprocessing.image.std values must be > 0`);
  const pad = p.pad_rgb;
  if (pad !== undefined && !(Array.isArray(pad) && pad.length === 3 && pad.every((v) => Number.isInteger(v) && v >= 0 && v <= 255))) {
    out.push(`preprocessing.image.pad_rgb needs 3 integers in 0..255`);
  }
  if (input && out.length === 0) {
    const want = p.layout === "NHWC" ? [-1, p.height, p.width, 3] : [-1, 3, p.height, p.width];
    if (JSON.stringify(input.shape) !== JSON.stringify(want))
      out.push(`input "${input.name}" has shape ${JSON.stringify(input.shape)} but preprocessing makes ${JSON.stringify(want)}`);
  }
  return out;
}
