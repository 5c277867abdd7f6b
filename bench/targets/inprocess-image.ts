// Reference for the image path: the same work as a ClassifyImage call with no
// RPC around it, in one process (pinned to core 0 by the caller, like the
// server): the repository's own preprocessing (sharp: decode, resize, then
// normalize) and ONNX Runtime through the repository's InferencePool with one
// worker thread (as the server runs with INFERENCE_WORKERS=1), then the top
// labels. Two ways to reach ORT:
//   pool    one session.run() per image, no batching;
//   engine  through ServedVersion, i.e. the server's dynamic batcher with the
//           model's own batching config.
// `concurrency` images are in flight at once (async loops); images/s counts
// completions in the measured period after a warm-up.
//
//   node --import tsx bench/targets/inprocess-image.ts <model-dir> <jpeg> <mode> <c1,c2,..> <duration-s> <warmup-s>
// Prints one line per concurrency: INPROCESS_RESULT {...}
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InferencePool } from "../../src/engine/inference-pool.js";
import type { TensorIO } from "../../src/engine/session-types.js";
import { readModelConfig } from "../../src/engine/model-config.js";
import { ServedVersion } from "../../src/engine/served-version.js";
import { preprocessImage } from "../../src/models/image-preprocess.js";
import { topLabels } from "../../src/models/image-labels.js";
import { summarize } from "../lib/parse.js";

const [modelDir, jpegPath, mode, levels, durationArg, warmupArg] = process.argv.slice(2);
if (!modelDir || !jpegPath || (mode !== "pool" && mode !== "engine") || !levels) {
  console.error("usage: inprocess-image.ts <model-dir> <jpeg> <pool|engine> <c1,c2,..> <duration-s> <warmup-s>");
  process.exit(2);
}
const durationMs = Number(durationArg ?? 5) * 1000;
const warmupMs = Number(warmupArg ?? 1) * 1000;
const jpeg = readFileSync(jpegPath);
const config = await readModelConfig(modelDir);
const pre = config.preprocessing?.image;
if (!pre) throw new Error(`${modelDir} is not an image model`);
const input = config.inputs[0]!.name;
const output = config.outputs[0]!.name;
const modelPath = join(modelDir, "1", "model.onnx");
const limits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000 };
const pool = new InferencePool({ workers: 1 });

let infer: (feeds: Record<string, TensorIO>) => Promise<Record<string, TensorIO>>;
if (mode === "pool") {
  const session = await pool.load(modelPath, {
    intraOpNumThreads: config.session.intra_op_threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: config.session.graph_optimization_level,
  });
  infer = (feeds) => session.run(feeds);
} else {
  const served = await ServedVersion.load({ pool, config, modelPath, version: "1", workers: 1 });
  infer = async (feeds) => (await served.infer(feeds as never)) as unknown as Record<string, TensorIO>;
}

async function classify(): Promise<number> {
  const tensor = await preprocessImage(jpeg, "image/jpeg", pre!, limits);
  const out = await infer({ [input]: { type: "float32", data: tensor.data, dims: tensor.dims } });
  const labels = topLabels(out[output]!.data as Float32Array, config.labels ?? [], 5, pre!.output === "logits");
  return labels.length;
}

for (const c of levels.split(",").map(Number)) {
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  const latencies: number[] = [];
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  let wallAtStart = 0;
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  const startTimer = setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    wallAtStart = performance.now();
  }, warmupMs);
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await classify();
      const t1 = performance.now();
      if (t1 >= measureFrom && t1 <= end) latencies.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: c }, loop));
  clearTimeout(startTimer);
  clearInterval(rssTimer);
  const cpu = process.cpuUsage(cpuAtStart);
  const wall = performance.now() - wallAtStart;
  const latency = summarize(latencies);
  console.log(
    "INPROCESS_RESULT " +
      JSON.stringify({
        mode,
        concurrency: c,
        imagesPerSec: latencies.length / (durationMs / 1000),
        images: latencies.length,
        latency,
        cpuPercent: (100 * (cpu.user + cpu.system)) / 1000 / wall,
        peakRssMiB: peakRss / 2 ** 20,
        batching: config.batching,
      }),
  );
}
await pool.close();
process.exit(0);
