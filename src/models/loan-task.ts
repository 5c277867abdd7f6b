// The loan-approval task: applications in, tensors to the model, decisions
// and their reasons out. The column list and factor texts come from the
// model's config, so a retrained model with other columns needs no code.
import { DecisionFactorSchema, type DecisionFactor, type PredictRequest } from "../../gen/prediction/v1/prediction_service_pb.js";
import type { FactorSpec, ModelConfig } from "../engine/model-config.js";
import type { Tensors } from "../engine/tensor-rows.js";
import { featureEncoder } from "./loan-features.js";

export const LOAN_TASK = "loan_approval";

/**
 * One reason behind a decision, built as the answer's own message (feature,
 * contribution to the approval log-odds, positive favours approval, and a
 * description), so that answering copies nothing per row.
 */
export type Factor = DecisionFactor;

export interface LoanPrediction {
  approvalProbability: number;
  /** Strongest first, up to three, those behind the decision first. */
  factors: Factor[];
}

const MAX_FACTORS = 3;
const PROBABILITY = "approval_probability";
const CONTRIBUTIONS = "contributions";

// One compiled encoder per loaded config.
const encoders = new WeakMap<ModelConfig, (rows: readonly PredictRequest[]) => Float32Array>();

/** The model's input tensor for these applications. */
export function encodeApplications(config: ModelConfig, rows: readonly PredictRequest[]): Tensors {
  const input = config.inputs[0];
  let encode = encoders.get(config);
  if (!encode) {
    if (!input.columns) throw new Error(`${config.name}: a loan model's input needs "columns"`);
    encode = featureEncoder(input.columns);
    encoders.set(config, encode);
  }
  return { [input.name]: { type: "float32", data: encode(rows), dims: [rows.length, input.columns!.length] } };
}

/** Decisions for the rows of one output set. */
export function decodePredictions(config: ModelConfig, outputs: Tensors): LoanPrediction[] {
  const prob = outputs[PROBABILITY];
  const contrib = outputs[CONTRIBUTIONS];
  const rows = prob.dims[0];
  const k = contrib?.dims[1] ?? 0;
  const specs = config.factors ?? [];
  const result: LoanPrediction[] = [];
  for (let i = 0; i < rows; i++) {
    const p = Number(prob.data[i]);
    const factors = contrib ? topFactors(contrib.data as ArrayLike<number>, specs, p >= 0.5, i * k, k) : [];
    result.push({ approvalProbability: p, factors });
  }
  return result;
}

/**
 * Where the first non-finite number the answers would carry is, or undefined.
 * The contract's bounds keep the model finite; this is the backstop for our
 * own faults (a bad model or config), which must never reach a client as NaN.
 */
export function firstNonFinite(predictions: readonly LoanPrediction[]): string | undefined {
  for (let i = 0; i < predictions.length; i++) {
    const { approvalProbability, factors } = predictions[i];
    if (!Number.isFinite(approvalProbability)) return `row ${i}: approval_probability ${approvalProbability}`;
    for (const f of factors) if (!Number.isFinite(f.contribution)) return `row ${i}: contribution of ${f.feature} ${f.contribution}`;
  }
  return undefined;
}

/**
 * The reasons behind a decision: factors that pushed toward the decision
 * taken, largest first (a denied applicant learns what counted against them),
 * equal ones in column order. The contributions are row[offset] to
 * row[offset + width - 1], one per factor spec (a row of the model's output,
 * read in place). Kept by
 * insertion into at most MAX_FACTORS slots: sorting a copy per row was the
 * largest allocation of a PredictBatch.
 */
export function topFactors(row: ArrayLike<number>, specs: readonly FactorSpec[], approved: boolean, offset = 0, width = row.length - offset): Factor[] {
  const sign = approved ? 1 : -1;
  const top: Factor[] = [];
  const n = Math.min(specs.length, width);
  for (let j = 0; j < n; j++) {
    const c = row[offset + j];
    const strength = c * sign;
    if (!(strength > 0)) continue;
    if (top.length === MAX_FACTORS) {
      if (top[MAX_FACTORS - 1].contribution * sign >= strength) continue;
      top.pop();
    }
    const spec = specs[j];
    const factor: Factor = {
      $typeName: DecisionFactorSchema.typeName,
      feature: spec.feature,
      contribution: c,
      description: c >= 0 ? spec.raises_approval : spec.lowers_approval,
    };
    let at = top.length;
    top.push(factor);
    while (at > 0 && top[at - 1].contribution * sign < strength) {
      top[at] = top[at - 1];
      at--;
    }
    top[at] = factor;
  }
  return top;
}
