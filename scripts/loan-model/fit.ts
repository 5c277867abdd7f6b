// Logistic regression over standardized features, with the sign of each
// weight fixed where a lender expects a direction: fitted by projected Newton
// steps, so a weight that would take the wrong sign stays at zero.
import { COLUMN } from "./data-rule.js";

/** +1: approval may only rise with the feature; -1: only fall; 0: free. */
export type Sign = 1 | -1 | 0;

export interface Feature {
  name: string;
  sign: Sign;
  /** Left as it is rather than standardized, so its term is 0 for the group it is 0 for (not relative to the average). */
  raw?: true;
  /** The feature from one row of the `features` input (the ONNX graph computes the same). */
  of(row: number[]): number;
}

// Each is a non-decreasing function of its inputs (debt_to_income: of loan_amount,
// and non-increasing in income), so a sign on the weight is a direction on the input.
export const MODEL_FEATURES: Feature[] = [
  { name: "debt_to_income", sign: -1, of: (r) => r[COLUMN.loan_amount] / r[COLUMN.income] },
  { name: "log_income", sign: 1, of: (r) => Math.log(r[COLUMN.income]) },
  { name: "credit_score", sign: 1, of: (r) => r[COLUMN.credit_score] },
  { name: "log1p_employment_years", sign: 1, of: (r) => Math.log1p(r[COLUMN.employment_years]) },
  // Regulation B lets age favour applicants of 62 and older: a step up, 0 below 62, never negative.
  { name: "age_62_or_older", sign: 1, raw: true, of: (r) => (r[COLUMN.age] >= 62 ? 1 : 0) },
  { name: "purpose_home", sign: 0, of: (r) => r[COLUMN.purpose_home] },
  { name: "purpose_car", sign: 0, of: (r) => r[COLUMN.purpose_car] },
  { name: "purpose_education", sign: 0, of: (r) => r[COLUMN.purpose_education] },
  { name: "purpose_personal", sign: 0, of: (r) => r[COLUMN.purpose_personal] },
];

/** Age that also scores young applicants lower: fitted only to measure what not doing so costs. */
export const AGE_UP_TO_62: Feature = { name: "min(age, 62)", sign: 1, of: (r) => Math.min(r[COLUMN.age], 62) };

export interface Standardizer {
  mean: number[];
  std: number[];
}

export interface FittedModel {
  features: Feature[];
  standardizer: Standardizer;
  weights: number[];
  bias: number;
  iterations: number;
}

export interface FitOptions {
  /** L2 strength on the mean log-loss; small, mainly to make the one-hot weights identifiable. */
  l2: number;
  maxIterations: number;
  tolerance: number;
}

function fitStandardizer(x: number[][], features: Feature[]): Standardizer {
  const dims = x[0].length;
  const n = x.length;
  const mean = new Array<number>(dims).fill(0);
  const std = new Array<number>(dims).fill(0);
  for (const v of x) for (let j = 0; j < dims; j++) mean[j] += v[j] / n;
  for (const v of x) for (let j = 0; j < dims; j++) std[j] += (v[j] - mean[j]) ** 2 / n;
  // A constant column would divide by zero; 1 leaves it at 0 after centering.
  return {
    mean: mean.map((m, j) => (features[j].raw ? 0 : m)),
    std: std.map((v, j) => (features[j].raw || !(v > 0) ? 1 : Math.sqrt(v))),
  };
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Per-feature terms of the logit: weight × standardized feature. */
export function terms(model: FittedModel, row: number[]): number[] {
  const { mean, std } = model.standardizer;
  return model.features.map((f, j) => (model.weights[j] * (f.of(row) - mean[j])) / std[j]);
}

export function predict(model: FittedModel, row: number[]): number {
  return sigmoid(model.bias + terms(model, row).reduce((a, b) => a + b, 0));
}

/** Solves A x = b for symmetric positive-definite A (Cholesky); A is tiny. */
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

/** Mean log-loss + (l2/2)·|w|², its gradient and Hessian; parameter 0 is the (unpenalized) bias. */
function lossAndDerivatives(x: number[][], y: number[], theta: number[], l2: number, derivatives: boolean) {
  const n = x.length;
  const dims = theta.length;
  let loss = 0;
  for (let j = 1; j < dims; j++) loss += (l2 / 2) * theta[j] ** 2;
  const gradient = theta.map((t, j) => (j === 0 ? 0 : l2 * t));
  const hessian = derivatives ? theta.map((_, i) => theta.map((__, j) => (i === j && i > 0 ? l2 : 0))) : [];
  for (let r = 0; r < n; r++) {
    let z = theta[0];
    for (let j = 1; j < dims; j++) z += theta[j] * x[r][j - 1];
    // log(1 + e^z) - y·z, computed without overflow.
    loss += (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y[r] * z) / n;
    if (!derivatives) continue;
    const p = sigmoid(z);
    const w = (p * (1 - p)) / n;
    for (let i = 0; i < dims; i++) {
      const xi = i === 0 ? 1 : x[r][i - 1];
      gradient[i] += ((p - y[r]) * xi) / n;
      for (let j = 0; j <= i; j++) hessian[i][j] += w * xi * (j === 0 ? 1 : x[r][j - 1]);
    }
  }
  for (let i = 0; i < dims; i++) for (let j = 0; j < i; j++) if (derivatives) hessian[j][i] = hessian[i][j];
  return { loss, gradient, hessian };
}

/**
 * Projected Newton: a weight held at zero by its sign stays out of the step
 * while the gradient pushes it the wrong way; the step is projected back onto
 * the allowed signs and halved until the loss falls. Converged when the step
 * is below tolerance; the result is checked against the optimality (KKT)
 * conditions before it is returned.
 */
export function fitLogistic(rows: number[][], labels: number[], features: Feature[], opts: FitOptions): FittedModel {
  const raw = rows.map((r) => features.map((f) => f.of(r)));
  const standardizer = fitStandardizer(raw, features);
  const x = raw.map((v) => v.map((value, j) => (value - standardizer.mean[j]) / standardizer.std[j]));
  const signs = [0, ...features.map((f) => f.sign)];
  const project = (theta: number[]) => theta.map((t, j) => (signs[j] > 0 ? Math.max(0, t) : signs[j] < 0 ? Math.min(0, t) : t));
  const heldAtBound = (theta: number[], g: number[], j: number) => signs[j] !== 0 && theta[j] === 0 && signs[j] * g[j] > 0;
  let theta = new Array<number>(features.length + 1).fill(0);
  for (let iteration = 1; iteration <= opts.maxIterations; iteration++) {
    const { loss, gradient, hessian } = lossAndDerivatives(x, labels, theta, opts.l2, true);
    const free = theta.map((_, j) => j).filter((j) => !heldAtBound(theta, gradient, j));
    const stepFree = solveSpd(
      free.map((i) => free.map((j) => hessian[i][j])),
      free.map((j) => gradient[j]),
    );
    const step = new Array<number>(theta.length).fill(0);
    free.forEach((j, k) => {
      step[j] = stepFree[k];
    });
    if (Math.max(...step.map(Math.abs)) < opts.tolerance) {
      checkOptimality(theta, gradient, signs);
      return { features, standardizer, weights: theta.slice(1), bias: theta[0], iterations: iteration };
    }
    let t = 1;
    for (;;) {
      const candidate = project(theta.map((v, j) => v - t * step[j]));
      const decrease = gradient.reduce((s, g, j) => s + g * (theta[j] - candidate[j]), 0);
      if (lossAndDerivatives(x, labels, candidate, opts.l2, false).loss <= loss - 1e-4 * decrease || t < 1e-12) {
        theta = candidate;
        break;
      }
      t /= 2;
    }
  }
  throw new Error(`projected Newton did not converge in ${opts.maxIterations} iterations`);
}

/** A free weight has zero gradient; a weight held at zero has a gradient pushing past its sign. */
function checkOptimality(theta: number[], gradient: number[], signs: number[]): void {
  theta.forEach((t, j) => {
    const atBound = signs[j] !== 0 && t === 0;
    const ok = atBound ? signs[j] * gradient[j] >= -1e-8 : Math.abs(gradient[j]) < 1e-8;
    if (!ok) throw new Error(`not optimal: parameter ${j} = ${t}, gradient ${gradient[j]}`);
    if (signs[j] * t < 0) throw new Error(`parameter ${j} = ${t} has the wrong sign`);
  });
}
