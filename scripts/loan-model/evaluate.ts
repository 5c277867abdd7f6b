// How good the loan model's probabilities are: overall and per group of
// applicants (age band, loan purpose), on a set it was not trained on.
import { PURPOSES, type Sample } from "./data-rule.js";

export interface Metrics {
  count: number;
  /** Share of applications whose label is approved. */
  approval_rate: number;
  /** Share the model approves (probability >= 0.5). */
  predicted_approval_rate: number;
  mean_probability: number;
  accuracy: number;
  roc_auc: number;
  /** Expected calibration error: |mean probability − approval rate| over 10 equal-width bins, weighted by bin size. */
  calibration_error: number;
}

export const CALIBRATION_BINS = 10;

function accuracy(p: ArrayLike<number>, y: readonly number[]): number {
  let correct = 0;
  for (let i = 0; i < y.length; i++) if ((p[i] >= 0.5 ? 1 : 0) === y[i]) correct++;
  return correct / y.length;
}

/** ROC AUC as the Mann-Whitney statistic: ties count half (average ranks). NaN when one class is missing. */
function rocAuc(scores: ArrayLike<number>, y: readonly number[]): number {
  const order = Array.from(y.keys()).sort((a, b) => scores[a] - scores[b]);
  let positiveRankSum = 0;
  let positives = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (y[order[k]] === 1) {
        positiveRankSum += averageRank;
        positives++;
      }
    }
    start = end + 1;
  }
  const negatives = y.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

function calibrationError(p: ArrayLike<number>, y: readonly number[]): number {
  const sumP = new Array<number>(CALIBRATION_BINS).fill(0);
  const sumY = new Array<number>(CALIBRATION_BINS).fill(0);
  for (let i = 0; i < y.length; i++) {
    const bin = Math.min(CALIBRATION_BINS - 1, Math.floor(p[i] * CALIBRATION_BINS));
    sumP[bin] += p[i];
    sumY[bin] += y[i];
  }
  return sumP.reduce((s, sp, b) => s + Math.abs(sp - sumY[b]), 0) / y.length;
}

function mean(xs: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i];
  return sum / xs.length;
}

export function evaluate(p: ArrayLike<number>, y: readonly number[]): Metrics {
  return {
    count: y.length,
    approval_rate: mean(y),
    predicted_approval_rate: mean(Array.from(p, (x) => (x >= 0.5 ? 1 : 0))),
    mean_probability: mean(p),
    accuracy: accuracy(p, y),
    roc_auc: rocAuc(p, y),
    calibration_error: calibrationError(p, y),
  };
}

/** Age bands of the fairness report: 62 is where Regulation B's "elderly" begins. */
export const AGE_BANDS = [
  { name: "18-24", min: 18, max: 24 },
  { name: "25-61", min: 25, max: 61 },
  { name: "62+", min: 62, max: Number.POSITIVE_INFINITY },
] as const;

export interface GroupMetrics {
  age: Record<string, Metrics>;
  loan_purpose: Record<string, Metrics>;
}

export function evaluateGroups(samples: readonly Sample[], p: ArrayLike<number>): GroupMetrics {
  const of = (keep: (s: Sample) => boolean) => {
    const idx = samples.flatMap((s, i) => (keep(s) ? [i] : []));
    return evaluate(
      idx.map((i) => p[i]),
      idx.map((i) => samples[i].label),
    );
  };
  return {
    age: Object.fromEntries(AGE_BANDS.map((b) => [b.name, of((s) => s.applicant.age >= b.min && s.applicant.age <= b.max)])),
    loan_purpose: Object.fromEntries(PURPOSES.map((purpose) => [purpose, of((s) => s.applicant.purpose === purpose)])),
  };
}

/** Rounds every number of a metrics object to 4 decimals, as metrics.json stores them. */
export function rounded<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1e4) / 1e4 : v)));
}
