/**
 * Trains the `loan-approval` model from synthetic data and exports it to ONNX.
 *
 *   npx tsx scripts/train-loan-model.ts      (or: npm run train:loan)
 *
 * Everything is deterministic: a seeded PRNG generates the data, training is
 * full-batch Newton (IRLS), and no timestamps are written, so every run
 * produces byte-identical artifacts.
 *
 * ---------------------------------------------------------------------------
 * Generating rule (synthetic, NOT real lending data). Per applicant:
 *   age              whole years, Normal(43, 14) rounded, clamped to 18..95
 *   income           USD/yr, log-normal: median 52,000 * exp(0.015 * (min(age,55) - 40)),
 *                    log-sd 0.5, whole dollars
 *   credit_score     600 + 1.8 * (min(age,70) - 18) + 20 * ln(income / 52,000) + Normal(0, 65),
 *                    rounded, clamped to 300..850
 *   employment_years Exponential with mean 1 + 0.2 * (age - 18), capped at age - 18,
 *                    rounded to 0.1 year
 *   loan_purpose     HOME 25%, CAR 30%, EDUCATION 15%, PERSONAL 30%
 *   loan_amount      USD, log-normal: purpose median * (income / 52,000)^0.6, with
 *                    medians HOME 150,000 / CAR 25,000 / EDUCATION 30,000 / PERSONAL 12,000
 *                    and log-sd 0.5 / 0.4 / 0.6 / 0.7; whole dollars, at least 500
 * True approval log-odds (see TRUE_RULE for the exact constants):
 *   z = 0.3
 *       - 1.2 * (loan_amount / income)                  debt-to-income
 *       + 0.5 * ln(income / 52,000)
 *       + 0.018 * (credit_score - 680)
 *       + 0.75 * ln(1 + employment_years)
 *       + 0.04 * (min(age, 60) - 40) - 0.06 * max(0, age - 70)   young and very old riskier
 *       + purpose offset: HOME +3.9, CAR +0.9, EDUCATION +0.3, PERSONAL -0.75
 *   label = approved (1) iff z + logistic noise > 0, i.e. P(approved) = sigmoid(z).
 * The age effect is deliberately non-linear so the (linear-in-age) model is
 * not a perfect fit, as with real data.
 * ---------------------------------------------------------------------------
 *
 * ONNX interface (the server depends on it exactly):
 *   input  features              float32 [N, 9]  age, income, credit_score, employment_years,
 *                                                 loan_amount, purpose_home, purpose_car,
 *                                                 purpose_education, purpose_personal
 *   output approval_probability  float32 [N, 1]
 *   output contributions         float32 [N, 6]  debt_to_income, income, credit_score,
 *                                                 employment_years, age, loan_purpose
 * bias + sum(contributions) == logit, each contribution measured against the
 * average training applicant (weight * standardized feature).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";

const { onnx } = onnxProto;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const SEED = 20240611;
const SAMPLE_COUNT = 20_000;
const TEST_FRACTION = 0.2;
/** L2 strength on the mean log-loss; small, mainly to make the one-hot weights identifiable. */
const L2 = 1e-3;
const NEWTON_MAX_ITERATIONS = 50;
const NEWTON_TOLERANCE = 1e-10;
const MODEL_NAME = "loan-approval";
const MODEL_VERSION = "1";
const OPSET = 13;
const IR_VERSION = 8;

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MODEL_DIR = join(REPO_ROOT, "models", MODEL_NAME);
const VERSION_DIR = join(MODEL_DIR, MODEL_VERSION);

const PURPOSES = ["HOME", "CAR", "EDUCATION", "PERSONAL"] as const;
type Purpose = (typeof PURPOSES)[number];

/** Constants of the generating rule documented at the top of this file. */
const TRUE_RULE = {
  intercept: 0.3,
  debtToIncome: -1.2,
  logIncomeRatio: 0.5,
  creditPerPoint: 0.018,
  creditCenter: 680,
  log1pEmployment: 0.75,
  agePerYearUntil60: 0.04,
  agePerYearOver70: -0.06,
  purpose: { HOME: 3.9, CAR: 0.9, EDUCATION: 0.3, PERSONAL: -0.75 } satisfies Record<Purpose, number>,
};

const PURPOSE_MIX: Record<Purpose, number> = { HOME: 0.25, CAR: 0.3, EDUCATION: 0.15, PERSONAL: 0.3 };
const LOAN_MEDIAN: Record<Purpose, number> = { HOME: 150_000, CAR: 25_000, EDUCATION: 30_000, PERSONAL: 12_000 };
const LOAN_LOG_SD: Record<Purpose, number> = { HOME: 0.5, CAR: 0.4, EDUCATION: 0.6, PERSONAL: 0.7 };
const MEDIAN_INCOME = 52_000;

/** Columns of the ONNX `features` input, in order. */
const INPUT_COLUMNS = [
  "age",
  "income",
  "credit_score",
  "employment_years",
  "loan_amount",
  "purpose_home",
  "purpose_car",
  "purpose_education",
  "purpose_personal",
] as const;

/** Engineered features the regression sees, in the order the graph concatenates them. */
const ENGINEERED = [
  "debt_to_income",
  "log_income",
  "credit_score",
  "log1p_employment_years",
  "age",
  "purpose_home",
  "purpose_car",
  "purpose_education",
  "purpose_personal",
] as const;

/** Columns of the ONNX `contributions` output, with the plain-language reasons the server reports. */
const FACTORS = [
  {
    feature: "debt_to_income",
    raises_approval: "loan amount is low relative to income",
    lowers_approval: "loan amount is high relative to income",
  },
  { feature: "income", raises_approval: "income is high", lowers_approval: "income is low" },
  { feature: "credit_score", raises_approval: "credit score is high", lowers_approval: "credit score is low" },
  {
    feature: "employment_years",
    raises_approval: "long time with current employer",
    lowers_approval: "short time with current employer",
  },
  {
    feature: "age",
    raises_approval: "applicant's age is associated with lower risk",
    lowers_approval: "applicant's age is associated with higher risk",
  },
  {
    feature: "loan_purpose",
    raises_approval: "loan purpose is lower risk",
    lowers_approval: "loan purpose is higher risk",
  },
] as const;

/** Number of engineered features that map one-to-one to a factor; the rest (the one-hot purpose) sum into the last one. */
const SCALAR_FEATURES = 5;

// ---------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------

interface Rng {
  /** Uniform in (0, 1): never exactly 0, so logs and divisions are safe. */
  uniform(): number;
  normal(): number;
  exponential(mean: number): number;
  logistic(): number;
}

/** mulberry32: tiny, fast and good enough for synthetic data; the point is reproducibility. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  // Shift by half a step so draws lie strictly inside (0, 1).
  const uniform = () => next() + 0.5 / 4294967296;
  return {
    uniform,
    // Box-Muller, using one of the pair; wasting the other keeps the stream simple.
    normal: () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
    exponential: (mean) => -mean * Math.log(uniform()),
    logistic: () => {
      const u = uniform();
      return Math.log(u / (1 - u));
    },
  };
}

// ---------------------------------------------------------------------------
// Synthetic applicants
// ---------------------------------------------------------------------------

interface Applicant {
  age: number;
  income: number;
  creditScore: number;
  employmentYears: number;
  loanAmount: number;
  purpose: Purpose;
}

interface Sample {
  /** The 9 raw input columns, exactly as fed to the ONNX model. */
  row: number[];
  label: 0 | 1;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

function pickPurpose(rng: Rng): Purpose {
  let u = rng.uniform();
  for (const purpose of PURPOSES) {
    u -= PURPOSE_MIX[purpose];
    if (u <= 0) return purpose;
  }
  return PURPOSES[PURPOSES.length - 1];
}

function generateApplicant(rng: Rng): Applicant {
  const age = clamp(Math.round(43 + 14 * rng.normal()), 18, 95);
  const medianIncome = MEDIAN_INCOME * Math.exp(0.015 * (Math.min(age, 55) - 40));
  const income = Math.max(1, Math.round(medianIncome * Math.exp(0.5 * rng.normal())));
  const creditMean = 600 + 1.8 * (Math.min(age, 70) - 18) + 20 * Math.log(income / MEDIAN_INCOME);
  const creditScore = clamp(Math.round(creditMean + 65 * rng.normal()), 300, 850);
  const tenure = Math.min(age - 18, rng.exponential(1 + 0.2 * (age - 18)));
  const employmentYears = Math.round(tenure * 10) / 10;
  const purpose = pickPurpose(rng);
  // Richer applicants borrow more, but less than proportionally: DTI falls with income.
  const loanMedian = LOAN_MEDIAN[purpose] * Math.pow(income / MEDIAN_INCOME, 0.6);
  const loanAmount = Math.max(500, Math.round(loanMedian * Math.exp(LOAN_LOG_SD[purpose] * rng.normal())));
  return { age, income, creditScore, employmentYears, loanAmount, purpose };
}

function trueLogOdds(a: Applicant): number {
  const r = TRUE_RULE;
  return (
    r.intercept +
    r.debtToIncome * (a.loanAmount / a.income) +
    r.logIncomeRatio * Math.log(a.income / MEDIAN_INCOME) +
    r.creditPerPoint * (a.creditScore - r.creditCenter) +
    r.log1pEmployment * Math.log1p(a.employmentYears) +
    r.agePerYearUntil60 * (Math.min(a.age, 60) - 40) +
    r.agePerYearOver70 * Math.max(0, a.age - 70) +
    r.purpose[a.purpose]
  );
}

function toRow(a: Applicant): number[] {
  const oneHot = PURPOSES.map((p) => (p === a.purpose ? 1 : 0));
  // Round through float32 so the TypeScript model sees exactly what ONNX sees.
  return [a.age, a.income, a.creditScore, a.employmentYears, a.loanAmount, ...oneHot].map(Math.fround);
}

function generateSamples(seed: number, count: number): Sample[] {
  const rng = createRng(seed);
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const applicant = generateApplicant(rng);
    const approved = trueLogOdds(applicant) + rng.logistic() > 0;
    samples.push({ row: toRow(applicant), label: approved ? 1 : 0 });
  }
  return samples;
}

// ---------------------------------------------------------------------------
// Model: standardized engineered features -> logistic regression
// ---------------------------------------------------------------------------

/** Mirrors the ONNX graph's feature engineering exactly (same formulas, same order). */
function engineer(row: number[]): number[] {
  const [age, income, creditScore, employmentYears, loanAmount, ...oneHot] = row;
  return [loanAmount / income, Math.log(income), creditScore, Math.log1p(employmentYears), age, ...oneHot];
}

interface Standardizer {
  mean: number[];
  std: number[];
}

function fitStandardizer(features: number[][]): Standardizer {
  const dims = features[0].length;
  const n = features.length;
  const mean = new Array<number>(dims).fill(0);
  const std = new Array<number>(dims).fill(0);
  for (const x of features) for (let j = 0; j < dims; j++) mean[j] += x[j] / n;
  for (const x of features) for (let j = 0; j < dims; j++) std[j] += (x[j] - mean[j]) ** 2 / n;
  // A constant column would divide by zero; 1 leaves it at 0 after centering.
  return { mean, std: std.map((v) => (v > 0 ? Math.sqrt(v) : 1)) };
}

const standardize = (x: number[], s: Standardizer) => x.map((v, j) => (v - s.mean[j]) / s.std[j]);

interface LoanModel {
  standardizer: Standardizer;
  weights: number[];
  bias: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Per-factor contributions to the logit, in FACTORS order. */
function contributions(model: LoanModel, row: number[]): number[] {
  const z = standardize(engineer(row), model.standardizer);
  const terms = z.map((v, j) => model.weights[j] * v);
  const purpose = terms.slice(SCALAR_FEATURES).reduce((a, b) => a + b, 0);
  return [...terms.slice(0, SCALAR_FEATURES), purpose];
}

function predictProbability(model: LoanModel, row: number[]): number {
  return sigmoid(model.bias + contributions(model, row).reduce((a, b) => a + b, 0));
}

/** Solves A x = b for symmetric positive-definite A (Cholesky); A is tiny (10x10). */
function solveSpd(a: number[][], b: number[]): number[] {
  const n = b.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i][j];
      for (let k = 0; k < j; k++) sum -= l[i][k] * l[j][k];
      if (i === j) {
        if (sum <= 0) throw new Error("Hessian is not positive definite");
        l[i][i] = Math.sqrt(sum);
      } else {
        l[i][j] = sum / l[j][j];
      }
    }
  }
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i][k] * y[k];
    y[i] = sum / l[i][i];
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < n; k++) sum -= l[k][i] * x[k];
    x[i] = sum / l[i][i];
  }
  return x;
}

/**
 * Newton's method (IRLS) on mean log-loss + (L2/2)·|w|², bias unpenalized.
 * Newton rather than gradient descent: with 10 features it converges in a
 * handful of exact steps and has no learning rate to tune.
 */
function trainLogisticRegression(x: number[][], y: number[]): { weights: number[]; bias: number; iterations: number } {
  const n = x.length;
  const dims = x[0].length + 1; // parameter 0 is the bias
  const theta = new Array<number>(dims).fill(0);
  for (let iteration = 1; iteration <= NEWTON_MAX_ITERATIONS; iteration++) {
    const gradient = theta.map((t, j) => (j === 0 ? 0 : L2 * t));
    const hessian = theta.map((_, i) => theta.map((__, j) => (i === j && i > 0 ? L2 : 0)));
    for (let r = 0; r < n; r++) {
      const xr = [1, ...x[r]];
      const p = sigmoid(xr.reduce((s, v, j) => s + v * theta[j], 0));
      const w = (p * (1 - p)) / n;
      for (let i = 0; i < dims; i++) {
        gradient[i] += ((p - y[r]) * xr[i]) / n;
        for (let j = 0; j <= i; j++) hessian[i][j] += w * xr[i] * xr[j];
      }
    }
    for (let i = 0; i < dims; i++) for (let j = 0; j < i; j++) hessian[j][i] = hessian[i][j];
    const step = solveSpd(hessian, gradient);
    for (let j = 0; j < dims; j++) theta[j] -= step[j];
    if (Math.max(...step.map(Math.abs)) < NEWTON_TOLERANCE) {
      return { bias: theta[0], weights: theta.slice(1), iterations: iteration };
    }
  }
  throw new Error(`Newton did not converge in ${NEWTON_MAX_ITERATIONS} iterations`);
}

function train(samples: Sample[]): { model: LoanModel; iterations: number } {
  const engineered = samples.map((s) => engineer(s.row));
  const standardizer = fitStandardizer(engineered);
  const x = engineered.map((f) => standardize(f, standardizer));
  const { weights, bias, iterations } = trainLogisticRegression(
    x,
    samples.map((s) => s.label),
  );
  return { model: { standardizer, weights, bias }, iterations };
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

interface Metrics {
  accuracy: number;
  rocAuc: number;
}

function accuracy(probabilities: ArrayLike<number>, labels: number[]): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if ((probabilities[i] >= 0.5 ? 1 : 0) === labels[i]) correct++;
  return correct / labels.length;
}

/**
 * ROC AUC as the Mann-Whitney statistic: the probability that a random
 * positive scores above a random negative, ties counting half (via average ranks).
 */
function rocAuc(scores: ArrayLike<number>, labels: number[]): number {
  const order = Array.from(labels.keys()).sort((a, b) => scores[a] - scores[b]);
  let positiveRankSum = 0;
  let positives = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (labels[order[k]] === 1) {
        positiveRankSum += averageRank;
        positives++;
      }
    }
    start = end + 1;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) throw new Error("AUC needs both classes");
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

function evaluate(probabilities: ArrayLike<number>, labels: number[]): Metrics {
  return { accuracy: accuracy(probabilities, labels), rocAuc: rocAuc(probabilities, labels) };
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

// ---------------------------------------------------------------------------
// ONNX export
// ---------------------------------------------------------------------------

type TensorProto = InstanceType<typeof onnx.TensorProto>;
type NodeProto = InstanceType<typeof onnx.NodeProto>;

function floatTensor(name: string, dims: number[], values: number[]): TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values });
}

function int64Tensor(name: string, values: number[]): TensorProto {
  return onnx.TensorProto.create({
    name,
    dims: [values.length],
    dataType: onnx.TensorProto.DataType.INT64,
    int64Data: values,
  });
}

function node(opType: string, inputs: string[], outputs: string[], attributes: Record<string, number> = {}): NodeProto {
  const attribute = Object.entries(attributes).map(([name, i]) =>
    onnx.AttributeProto.create({ name, i, type: onnx.AttributeProto.AttributeType.INT }),
  );
  return onnx.NodeProto.create({ name: outputs[0], opType, input: inputs, output: outputs, attribute });
}

/** float32 [batch, columns] graph input/output. */
function batchedFloat(name: string, columns: number, docString: string) {
  return onnx.ValueInfoProto.create({
    name,
    docString,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: "batch" }, { dimValue: columns }] },
      },
    },
  });
}

/** Slices columns [start, end) of `features` into a [N, end-start] tensor. */
function sliceColumns(output: string, start: number, end: number): { nodes: NodeProto[]; inits: TensorProto[] } {
  return {
    inits: [int64Tensor(`${output}_starts`, [start]), int64Tensor(`${output}_ends`, [end])],
    nodes: [node("Slice", ["features", `${output}_starts`, `${output}_ends`, "axis1"], [output])],
  };
}

function buildOnnxModel(model: LoanModel): Uint8Array {
  const slices = [
    sliceColumns("age", 0, 1),
    sliceColumns("income", 1, 2),
    sliceColumns("credit_score", 2, 3),
    sliceColumns("employment_years", 3, 4),
    sliceColumns("loan_amount", 4, 5),
    sliceColumns("purpose_one_hot", 5, 9),
  ];
  const f32 = (values: number[]) => values.map(Math.fround);
  const initializers: TensorProto[] = [
    int64Tensor("axis1", [1]),
    floatTensor("one", [], [1]),
    floatTensor("feature_mean", [ENGINEERED.length], f32(model.standardizer.mean)),
    floatTensor("feature_std", [ENGINEERED.length], f32(model.standardizer.std)),
    floatTensor("weights", [ENGINEERED.length], f32(model.weights)),
    floatTensor("bias", [], [Math.fround(model.bias)]),
    ...slices.flatMap((s) => s.inits),
    ...sliceColumns("scalar_terms", 0, SCALAR_FEATURES).inits,
    ...sliceColumns("purpose_terms", SCALAR_FEATURES, ENGINEERED.length).inits,
  ];
  const nodes: NodeProto[] = [
    ...slices.flatMap((s) => s.nodes),
    // Feature engineering, same formulas as engineer().
    node("Div", ["loan_amount", "income"], ["debt_to_income"]),
    node("Log", ["income"], ["log_income"]),
    node("Add", ["employment_years", "one"], ["employment_years_plus_1"]),
    node("Log", ["employment_years_plus_1"], ["log1p_employment_years"]),
    node(
      "Concat",
      ["debt_to_income", "log_income", "credit_score", "log1p_employment_years", "age", "purpose_one_hot"],
      ["engineered"],
      { axis: 1 },
    ),
    node("Sub", ["engineered", "feature_mean"], ["centered"]),
    node("Div", ["centered", "feature_std"], ["standardized"]),
    node("Mul", ["standardized", "weights"], ["terms"]),
    // Scalar features are their own factor; the four purpose terms add up to one.
    node("Slice", ["terms", "scalar_terms_starts", "scalar_terms_ends", "axis1"], ["scalar_terms"]),
    node("Slice", ["terms", "purpose_terms_starts", "purpose_terms_ends", "axis1"], ["purpose_terms"]),
    node("ReduceSum", ["purpose_terms", "axis1"], ["purpose_contribution"], { keepdims: 1 }),
    node("Concat", ["scalar_terms", "purpose_contribution"], ["contributions"], { axis: 1 }),
    node("ReduceSum", ["contributions", "axis1"], ["contribution_sum"], { keepdims: 1 }),
    node("Add", ["contribution_sum", "bias"], ["logit"]),
    node("Sigmoid", ["logit"], ["approval_probability"]),
  ];
  const graph = onnx.GraphProto.create({
    name: "loan_approval",
    docString: "Logistic regression on standardized engineered loan features; see MODEL_CARD.md.",
    node: nodes,
    initializer: initializers,
    input: [batchedFloat("features", INPUT_COLUMNS.length, `columns: ${INPUT_COLUMNS.join(", ")}`)],
    output: [
      batchedFloat("approval_probability", 1, "P(approved) = sigmoid(logit)"),
      batchedFloat("contributions", FACTORS.length, `logit contributions: ${FACTORS.map((f) => f.feature).join(", ")}`),
    ],
  });
  const modelProto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "prediction-server/scripts/train-loan-model.ts",
    modelVersion: Number(MODEL_VERSION),
    graph,
  });
  return onnx.ModelProto.encode(modelProto).finish();
}

// ---------------------------------------------------------------------------
// Verification against onnxruntime
// ---------------------------------------------------------------------------

async function runOnnx(modelPath: string, rows: number[][]): Promise<{ probabilities: Float32Array; contributions: Float32Array }> {
  const session = await ort.InferenceSession.create(modelPath);
  try {
    const input = new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, INPUT_COLUMNS.length]);
    const out = await session.run({ features: input });
    return {
      probabilities: out.approval_probability.data as Float32Array,
      contributions: out.contributions.data as Float32Array,
    };
  } finally {
    await session.release();
  }
}

/** Fails loudly if the exported graph disagrees with the TypeScript model or the printed metrics. */
async function verifyOnnx(modelPath: string, model: LoanModel, test: Sample[], printed: Metrics): Promise<void> {
  const rows = test.map((s) => s.row);
  const { probabilities, contributions: onnxContributions } = await runOnnx(modelPath, rows);
  let maxProbabilityDiff = 0;
  let maxContributionDiff = 0;
  rows.forEach((row, i) => {
    maxProbabilityDiff = Math.max(maxProbabilityDiff, Math.abs(probabilities[i] - predictProbability(model, row)));
    contributions(model, row).forEach((c, k) => {
      maxContributionDiff = Math.max(maxContributionDiff, Math.abs(onnxContributions[i * FACTORS.length + k] - c));
    });
  });
  if (maxProbabilityDiff > 1e-5) throw new Error(`ONNX probabilities differ by ${maxProbabilityDiff}`);
  if (maxContributionDiff > 1e-4) throw new Error(`ONNX contributions differ by ${maxContributionDiff}`);
  const fromOnnx = evaluate(
    probabilities,
    test.map((s) => s.label),
  );
  if (round4(fromOnnx.accuracy) !== round4(printed.accuracy) || round4(fromOnnx.rocAuc) !== round4(printed.rocAuc)) {
    throw new Error(`ONNX metrics ${JSON.stringify(fromOnnx)} differ from printed ${JSON.stringify(printed)}`);
  }
  console.log(
    `verified with onnxruntime: max |Δp| = ${maxProbabilityDiff.toExponential(2)}, ` +
      `max |Δcontribution| = ${maxContributionDiff.toExponential(2)}, metrics match`,
  );
}

// ---------------------------------------------------------------------------
// Artifacts
// ---------------------------------------------------------------------------

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

function configJson() {
  return {
    name: MODEL_NAME,
    task: "loan_approval",
    description:
      "Logistic regression giving the probability a loan application is approved, with per-factor " +
      "contributions to the log-odds. Trained on synthetic data; not for real lending decisions.",
    inputs: [{ name: "features", dtype: "float32", shape: [-1, INPUT_COLUMNS.length], columns: [...INPUT_COLUMNS] }],
    outputs: [
      { name: "approval_probability", dtype: "float32", shape: [-1, 1] },
      { name: "contributions", dtype: "float32", shape: [-1, FACTORS.length] },
    ],
    factors: FACTORS,
    // A batch of 256 rows runs in microseconds here: large batches cost little,
    // and the queue holds 64 concurrent PredictBatch calls of 100 rows and more.
    batching: { max_batch_size: 256, max_queue_delay_us: 0, max_queue_rows: 16384 },
    session: { intra_op_threads: 1, graph_optimization_level: "all" },
  };
}

function metricsJson(trainCount: number, testCount: number, trainMetrics: Metrics, testMetrics: Metrics) {
  return {
    version: MODEL_VERSION,
    trained_at_seed: SEED,
    samples: { train: trainCount, test: testCount },
    test_accuracy: round4(testMetrics.accuracy),
    test_roc_auc: round4(testMetrics.rocAuc),
    train_accuracy: round4(trainMetrics.accuracy),
    train_roc_auc: round4(trainMetrics.rocAuc),
  };
}

const fmt = (x: number, digits = 4) => x.toFixed(digits);
/** A signed term of the rule as it reads in prose: "+ 0.5 · x" or "− 1.2 · x". */
const term = (coefficient: number, expression: string) =>
  `${coefficient < 0 ? "−" : "+"} ${Math.abs(coefficient)} · ${expression}`;

function modelCard(args: {
  model: LoanModel;
  iterations: number;
  trainCount: number;
  testCount: number;
  approvalRate: number;
  trainMetrics: Metrics;
  testMetrics: Metrics;
}): string {
  const { model, iterations, trainCount, testCount, approvalRate, trainMetrics, testMetrics } = args;
  const r = TRUE_RULE;
  const parameterRows = ENGINEERED.map(
    (name, j) =>
      `| ${name} | ${fmt(model.standardizer.mean[j])} | ${fmt(model.standardizer.std[j])} | ${fmt(model.weights[j])} |`,
  ).join("\n");
  return `# Model card: ${MODEL_NAME} v${MODEL_VERSION}

Logistic regression that estimates the probability a loan application is
approved and explains each decision as per-factor contributions to the
log-odds. Artifact: \`models/${MODEL_NAME}/${MODEL_VERSION}/model.onnx\` (ONNX, IR
version ${IR_VERSION}, opset ${OPSET}). Generated by \`scripts/train-loan-model.ts\`;
do not edit by hand.

## Intended use and limits

- Intended for demonstrating and testing the prediction server (serving,
  batching, explanations). It is **not** a credit model.
- Trained only on **synthetic** data from the rule below. Its outputs say
  nothing about real applicants and must not be used for real lending.
- The synthetic rule is a simplification: no credit history, existing debt,
  collateral or loan term. Age is an input only because the exercise asks for
  it; in real lending, age-based decisions are regulated or prohibited.
- Inputs far outside the training ranges (e.g. age above 95, incomes in the
  millions, tiny incomes against large loans) extrapolate linearly in the
  engineered features and give extreme, untested contributions.

## Training data (generating rule)

${SAMPLE_COUNT} synthetic applications from a mulberry32 PRNG seeded with
**${SEED}**; the first ${trainCount} train, the last ${testCount} are held out
(samples are i.i.d., so a contiguous split is unbiased). ${fmt(approvalRate * 100, 1)}% are approved.

Per applicant:

| Field | Distribution |
|---|---|
| age | whole years, Normal(43, 14) rounded, clamped to 18..95 |
| income | USD/yr, log-normal: median ${MEDIAN_INCOME} · exp(0.015 · (min(age, 55) − 40)), log-sd 0.5, whole dollars |
| credit_score | 600 + 1.8 · (min(age, 70) − 18) + 20 · ln(income / ${MEDIAN_INCOME}) + Normal(0, 65), rounded, clamped to 300..850 |
| employment_years | Exponential, mean 1 + 0.2 · (age − 18), capped at age − 18, rounded to 0.1 |
| loan_purpose | ${PURPOSES.map((p) => `${p} ${PURPOSE_MIX[p] * 100}%`).join(", ")} |
| loan_amount | USD, log-normal: purpose median · (income / ${MEDIAN_INCOME})^0.6; medians ${PURPOSES.map((p) => `${p} ${LOAN_MEDIAN[p]}`).join(", ")}; log-sd ${PURPOSES.map((p) => `${p} ${LOAN_LOG_SD[p]}`).join(", ")}; whole dollars, at least 500 |

True approval log-odds:

\`\`\`
z = ${r.intercept}
    ${term(r.debtToIncome, "loan_amount / income")}
    ${term(r.logIncomeRatio, `ln(income / ${MEDIAN_INCOME})`)}
    ${term(r.creditPerPoint, `(credit_score − ${r.creditCenter})`)}
    ${term(r.log1pEmployment, "ln(1 + employment_years)")}
    ${term(r.agePerYearUntil60, "(min(age, 60) − 40)")} ${term(r.agePerYearOver70, "max(0, age − 70)")}
    + purpose offset (${PURPOSES.map((p) => `${p} ${r.purpose[p] > 0 ? "+" : ""}${r.purpose[p]}`).join(", ")})
approved = z + Logistic(0, 1) noise > 0        (so P(approved) = sigmoid(z))
\`\`\`

The age effect is non-linear on purpose, so the linear model is not a perfect fit.

## Features

Raw input \`features\`: float32 [N, 9], columns
${INPUT_COLUMNS.map((c) => `\`${c}\``).join(", ")} (the purpose columns are one-hot:
exactly one is 1).

Engineered inside the ONNX graph, then standardized with the training mean and
standard deviation below (baked into the graph):

| Engineered feature | Training mean | Training std | Weight |
|---|---|---|---|
${parameterRows}

Bias: ${fmt(model.bias)}.

Outputs:

- \`approval_probability\`: float32 [N, 1] = sigmoid(logit).
- \`contributions\`: float32 [N, 6], columns ${FACTORS.map((f) => `\`${f.feature}\``).join(", ")}:
  weight × standardized value, i.e. the contribution to the logit relative to
  the average training applicant; the four purpose terms are summed into
  \`loan_purpose\`. bias + sum(contributions) = logit.

## Training

Logistic regression fitted in plain TypeScript by Newton's method (IRLS) on
the mean log-loss plus (λ/2)·‖w‖², λ = ${L2}, bias not penalized; converged in
${iterations} iterations (step < ${NEWTON_TOLERANCE}). Fully deterministic.

## Evaluation

| Split | Samples | Accuracy (threshold 0.5) | ROC AUC |
|---|---|---|---|
| train | ${trainCount} | ${fmt(trainMetrics.accuracy)} | ${fmt(trainMetrics.rocAuc)} |
| held-out test | ${testCount} | ${fmt(testMetrics.accuracy)} | ${fmt(testMetrics.rocAuc)} |

The training script re-scores the test set with onnxruntime-node and checks
that the ONNX probabilities match the TypeScript model within 1e-5 and
reproduce these metrics.

## Retraining

\`\`\`
npm run train:loan
\`\`\`

rewrites \`model.onnx\`, \`metrics.json\`, this card and \`../config.json\`.
Output is byte-identical across runs; change \`SEED\` or the rule in the script
to get a different model, and bump the version directory if the server should
see it as a new model.
`;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function main(): Promise<void> {
  const samples = generateSamples(SEED, SAMPLE_COUNT);
  const testCount = Math.round(SAMPLE_COUNT * TEST_FRACTION);
  const trainSamples = samples.slice(0, SAMPLE_COUNT - testCount);
  const testSamples = samples.slice(SAMPLE_COUNT - testCount);
  const approvalRate = samples.reduce((s, x) => s + x.label, 0) / samples.length;
  console.log(`generated ${SAMPLE_COUNT} samples (seed ${SEED}), ${(approvalRate * 100).toFixed(1)}% approved`);

  const { model, iterations } = train(trainSamples);
  console.log(`trained logistic regression: ${iterations} Newton iterations, L2 ${L2}`);

  const score = (set: Sample[]) =>
    evaluate(
      set.map((s) => predictProbability(model, s.row)),
      set.map((s) => s.label),
    );
  const trainMetrics = score(trainSamples);
  const testMetrics = score(testSamples);
  console.log(`train: accuracy ${fmt(trainMetrics.accuracy)}, ROC AUC ${fmt(trainMetrics.rocAuc)} (n=${trainSamples.length})`);
  console.log(`test:  accuracy ${fmt(testMetrics.accuracy)}, ROC AUC ${fmt(testMetrics.rocAuc)} (n=${testSamples.length})`);

  mkdirSync(VERSION_DIR, { recursive: true });
  const modelPath = join(VERSION_DIR, "model.onnx");
  writeFileSync(modelPath, buildOnnxModel(model));
  writeJson(join(VERSION_DIR, "metrics.json"), metricsJson(trainSamples.length, testCount, trainMetrics, testMetrics));
  writeJson(join(MODEL_DIR, "config.json"), configJson());
  writeFileSync(
    join(VERSION_DIR, "MODEL_CARD.md"),
    modelCard({ model, iterations, trainCount: trainSamples.length, testCount, approvalRate, trainMetrics, testMetrics }),
  );

  await verifyOnnx(modelPath, model, testSamples, testMetrics);
  const bytes = readFileSync(modelPath);
  console.log(`wrote ${modelPath} (${bytes.length} bytes, sha256 ${sha256(bytes)})`);
}

await main();
