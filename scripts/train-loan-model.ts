/**
 * Trains the `loan-approval` model on synthetic data and exports it to ONNX.
 *
 *   npm run train:loan                         (writes models/loan-approval/1)
 *   npx tsx scripts/train-loan-model.ts --out DIR
 *
 * Writes model.onnx, metrics.json and MODEL_CARD.md into the version
 * directory and nothing else: serving settings (../config.json) are set by
 * hand. Deterministic: seeded data, exact Newton fit, no timestamps, so the
 * same environment writes byte-identical files.
 *
 * The pieces: loan-model/data-rule.ts (the synthetic world), fit.ts
 * (sign-constrained logistic regression), evaluate.ts (overall and per-group
 * metrics), onnx-graph.ts (the served graph), card.ts (the model card).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { keepOrtTelemetryOff } from "../src/engine/ort-telemetry.js";
import { modelCard } from "./loan-model/card.js";
import { generateSamples, INPUT_COLUMNS, type Sample } from "./loan-model/data-rule.js";
import { evaluate, evaluateGroups, rounded, type Metrics } from "./loan-model/evaluate.js";
import { AGE_UP_TO_62, fitLogistic, MODEL_FEATURES, predict, terms, type FitOptions, type FittedModel } from "./loan-model/fit.js";
import { buildOnnxModel, contributions, CONTRIBUTION_COLUMNS } from "./loan-model/onnx-graph.js";

const MODEL_NAME = "loan-approval";
const MODEL_VERSION = "1";
/** The date of this version of the data rule and model (not of the run: the output must not depend on when it ran). */
const MODEL_DATE = "2026-12-06";
const TRAIN_SEED = 20240611;
const EVALUATION_SEED = 20240612;
const SAMPLE_COUNT = 20_000;
const FIT: FitOptions = { l2: 1e-3, maxIterations: 100, tolerance: 1e-10 };
/** onnxruntime threads for the verification run: one, so its sums run in one order. */
const ORT_THREADS = 1;

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

function packageVersion(name: string): string {
  return JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8")).version;
}

/** What a retrain needs to match to reproduce these files. */
function environment(): Record<string, string | number> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    "onnxruntime-node": packageVersion("onnxruntime-node"),
    "onnx-proto": packageVersion("onnx-proto"),
    tsx: packageVersion("tsx"),
    "training threads": 1,
    "onnxruntime threads (verification)": ORT_THREADS,
    "train seed": TRAIN_SEED,
    "evaluation seed": EVALUATION_SEED,
  };
}

const rowsOf = (s: readonly Sample[]) => s.map((x) => x.row);
const labelsOf = (s: readonly Sample[]) => s.map((x) => x.label);
const scores = (model: FittedModel, s: readonly Sample[]) => s.map((x) => predict(model, x.row));

async function runOnnx(modelPath: string, rows: number[][]): Promise<{ probabilities: Float32Array; contributions: Float32Array }> {
  keepOrtTelemetryOff();
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: ORT_THREADS, interOpNumThreads: ORT_THREADS });
  try {
    const input = new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, INPUT_COLUMNS.length]);
    const out = await session.run({ features: input });
    return { probabilities: out.approval_probability.data as Float32Array, contributions: out.contributions.data as Float32Array };
  } finally {
    await session.release();
  }
}

/** Fails loudly if the exported graph disagrees with the TypeScript model or its metrics. */
async function verifyOnnx(modelPath: string, model: FittedModel, set: readonly Sample[], metrics: Metrics): Promise<void> {
  const { probabilities, contributions: fromOnnx } = await runOnnx(modelPath, rowsOf(set));
  const width = CONTRIBUTION_COLUMNS.length;
  let dp = 0;
  let dc = 0;
  set.forEach((s, i) => {
    dp = Math.max(dp, Math.abs(probabilities[i] - predict(model, s.row)));
    contributions(terms(model, s.row)).forEach((c, k) => {
      dc = Math.max(dc, Math.abs(fromOnnx[i * width + k] - c));
    });
  });
  if (!(dp <= 1e-5)) throw new Error(`ONNX probabilities differ by ${dp}`);
  if (!(dc <= 1e-4)) throw new Error(`ONNX contributions differ by ${dc}`);
  const onnxMetrics = rounded(evaluate(probabilities, labelsOf(set)));
  if (JSON.stringify(onnxMetrics) !== JSON.stringify(rounded(metrics))) {
    throw new Error(`ONNX metrics ${JSON.stringify(onnxMetrics)} differ from ${JSON.stringify(rounded(metrics))}`);
  }
  console.log(`verified with onnxruntime: max |Δp| ${dp.toExponential(2)}, max |Δcontribution| ${dc.toExponential(2)}, metrics match`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: "string" } } });
  const outDir = resolve(values.out ?? join(REPO_ROOT, "models", MODEL_NAME, MODEL_VERSION));
  const train = generateSamples(TRAIN_SEED, SAMPLE_COUNT);
  const test = generateSamples(EVALUATION_SEED, SAMPLE_COUNT);

  const model = fitLogistic(rowsOf(train), labelsOf(train), MODEL_FEATURES, FIT);
  const withAgeModel = fitLogistic(rowsOf(train), labelsOf(train), [...MODEL_FEATURES, AGE_UP_TO_62], FIT);
  const pTest = scores(model, test);
  const pWithAge = scores(withAgeModel, test);
  const metrics = {
    train: evaluate(scores(model, train), labelsOf(train)),
    test: evaluate(pTest, labelsOf(test)),
    ceiling: evaluate(
      test.map((s) => s.trueProbability),
      labelsOf(test),
    ),
    groups: evaluateGroups(test, pTest),
  };
  const r = rounded(metrics);
  console.log(
    `fitted in ${model.iterations} iterations; test accuracy ${r.test.accuracy}, ROC AUC ${r.test.roc_auc}, calibration error ${r.test.calibration_error}`,
  );

  mkdirSync(outDir, { recursive: true });
  const modelPath = join(outDir, "model.onnx");
  const bytes = buildOnnxModel(model, Number(MODEL_VERSION));
  writeFileSync(modelPath, bytes);
  await verifyOnnx(modelPath, model, test, metrics.test);

  const env = environment();
  writeFileSync(
    join(outDir, "metrics.json"),
    `${JSON.stringify(
      {
        version: MODEL_VERSION,
        date: MODEL_DATE,
        samples: { train: train.length, test: test.length },
        test_accuracy: r.test.accuracy,
        test_roc_auc: r.test.roc_auc,
        test_calibration_error: r.test.calibration_error,
        test_approval_rate: r.test.approval_rate,
        test_predicted_approval_rate: r.test.predicted_approval_rate,
        train_accuracy: r.train.accuracy,
        train_roc_auc: r.train.roc_auc,
        noise_ceiling_accuracy: r.ceiling.accuracy,
        noise_ceiling_roc_auc: r.ceiling.roc_auc,
        groups: r.groups,
        environment: env,
      },
      null,
      2,
    )}\n`,
  );
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  writeFileSync(
    join(outDir, "MODEL_CARD.md"),
    modelCard({
      name: MODEL_NAME,
      version: MODEL_VERSION,
      date: MODEL_DATE,
      seeds: { train: TRAIN_SEED, evaluation: EVALUATION_SEED },
      model,
      withAge: { model: withAgeModel, test: evaluate(pWithAge, labelsOf(test)), groups: evaluateGroups(test, pWithAge) },
      fit: FIT,
      ...metrics,
      environment: env,
      sha256,
    }),
  );
  console.log(
    `wrote ${outDir}: model.onnx (${bytes.length} bytes, sha256 ${sha256}), metrics.json, MODEL_CARD.md (${availableParallelism()} CPUs seen, ${ORT_THREADS} used)`,
  );
}

await main();
