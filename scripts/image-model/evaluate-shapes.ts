// Scores a `shapes` model version on the robustness set that
// test/support/shape-scenes.ts draws (a generator separate from training):
// accuracy per in-range condition and the share flagged (rejected) per
// out-of-distribution condition, through the server's own preprocessing and
// reject rule. Adds the figures to <version>/metrics.json (after training
// wrote it), where the model card quotes them and GetModelMetadata serves them.
//
//   npx tsx scripts/image-model/evaluate-shapes.ts [VERSION] [PER_CONDITION]
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { readModelConfig, type ModelConfig } from "../../src/engine/model-config.js";
import { keepOrtTelemetryOff } from "../../src/engine/ort-telemetry.js";
import { preprocessImage } from "../../src/models/image-preprocess.js";
import { isRejected, topLabels } from "../../src/models/image-labels.js";
import { IN_RANGE_CONDITIONS, OOD_CONDITIONS, renderScene, type Condition } from "../../test/support/shape-scenes.js";

const MODEL_DIR = fileURLToPath(new URL("../../models/shapes/", import.meta.url));
const LIMITS = { maxBytes: 10 * 2 ** 20, maxPixels: 40_000_000 };

export interface ConditionResult {
  condition: Condition;
  images: number;
  /** In-range: share correct and not flagged. OOD: share flagged. */
  rate: number;
  /** Share flagged (rejected). */
  flagged: number;
  /** Mean best score. */
  mean_top_score: number;
}

/** Runs `perCondition` scenes of every condition (indices from `first`) through the model. */
export async function scoreConditions(session: ort.InferenceSession, config: ModelConfig, perCondition: number, first = 0): Promise<ConditionResult[]> {
  const pre = config.preprocessing!.image!;
  const labels = config.labels!;
  const out: ConditionResult[] = [];
  for (const condition of [...IN_RANGE_CONDITIONS, ...OOD_CONDITIONS]) {
    const scenes = await Promise.all(Array.from({ length: perCondition }, (_, i) => renderScene(condition, first + i)));
    const plane = 3 * pre.width * pre.height;
    const input = new Float32Array(scenes.length * plane);
    await Promise.all(scenes.map(async (s, i) => input.set((await preprocessImage(s.bytes, s.contentType, pre, LIMITS)).data, i * plane)));
    const result = await session.run({ [config.inputs[0]!.name]: new ort.Tensor("float32", input, [scenes.length, 3, pre.height, pre.width]) });
    const probs = result[config.outputs[0]!.name]!.data as Float32Array;
    let hits = 0;
    let flagged = 0;
    let topSum = 0;
    scenes.forEach((s, i) => {
      const best = topLabels(probs.subarray(i * labels.length, (i + 1) * labels.length), labels, 1, pre.output === "logits")[0]!;
      const rejected = isRejected(best, config.reject);
      topSum += best.score;
      if (rejected) flagged++;
      if (s.expected === undefined ? rejected : !rejected && best.label === s.expected) hits++;
    });
    out.push({ condition, images: scenes.length, rate: hits / scenes.length, flagged: flagged / scenes.length, mean_top_score: topSum / scenes.length });
  }
  return out;
}

/** The figures the card and metrics quote: per condition, plus in-range flagged and OOD flagged overall. */
export function summarise(results: ConditionResult[]): Record<string, number> {
  const inRange = results.filter((r) => (IN_RANGE_CONDITIONS as readonly string[]).includes(r.condition));
  const ood = results.filter((r) => (OOD_CONDITIONS as readonly string[]).includes(r.condition));
  const mean = (rs: ConditionResult[], f: (r: ConditionResult) => number) => rs.reduce((a, r) => a + f(r) * r.images, 0) / rs.reduce((a, r) => a + r.images, 0);
  const round = (v: number) => Math.round(v * 10_000) / 10_000;
  return {
    ...Object.fromEntries(results.map((r) => [`robust_${r.condition}`, round(r.rate)])),
    robust_in_range_flagged: round(mean(inRange, (r) => r.flagged)),
    robust_ood_flagged: round(mean(ood, (r) => r.flagged)),
    robust_ood_mean_top_score: round(mean(ood, (r) => r.mean_top_score)),
  };
}

async function main() {
  const version = process.argv[2] ?? "2";
  const perCondition = Number(process.argv[3] ?? 300);
  const config = await readModelConfig(MODEL_DIR);
  keepOrtTelemetryOff();
  const session = await ort.InferenceSession.create(`${MODEL_DIR}${version}/model.onnx`, { intraOpNumThreads: 1 });
  const results = await scoreConditions(session, config, perCondition);
  for (const r of results)
    console.log(
      `${r.condition.padEnd(14)} ${(r.rate * 100).toFixed(1).padStart(6)}%  flagged ${(r.flagged * 100).toFixed(1).padStart(5)}%  mean top ${r.mean_top_score.toFixed(3)}`,
    );
  const summary = summarise(results);
  console.log(summary);
  const file = `${MODEL_DIR}${version}/metrics.json`;
  const metrics = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  for (const key of Object.keys(metrics)) if (key.startsWith("robust_")) delete metrics[key];
  const robustness = { generator: "test/support/shape-scenes.ts", per_condition: perCondition, first_index: 0, results };
  writeFileSync(file, `${JSON.stringify({ ...metrics, ...summary, robustness }, null, 2)}\n`);
  console.log(`updated ${file}`);
  await session.release();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
