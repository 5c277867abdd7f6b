// The loan-approval task: applications in, tensors to the model, decisions
// and their reasons out. The column list and factor texts come from the
// model's config, so a retrained model with other columns needs no code.
import type { PredictRequest } from "../../gen/prediction/v1/prediction_service_pb.js";
import type { FactorSpec, ModelConfig } from "../engine/model-config.js";
import type { Tensors } from "../engine/tensor-rows.js";
import { featureEncoder } from "./loan-features.js";

export const LOAN_TASK = "loan_approval";

export interface Factor {
  feature: string;
  /** Contribution to the approval log-odds; positive favours approval. */
  contribution: number;
  description: string;
}

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
    const factors = contrib ? topFactors(contrib.data.subarray(i * k, (i + 1) * k) as Float32Array, specs, p >= 0.5) : [];
    result.push({ approvalProbability: p, factors });
  }
  return result;
}

/**
 * The reasons behind a decision: factors that pushed toward the decision
 * taken, largest first (a denied applicant learns what counted against them).
 */
export function topFactors(contrib: ArrayLike<number>, specs: readonly FactorSpec[], approved: boolean): Factor[] {
  const sign = approved ? 1 : -1;
  const behind: Factor[] = [];
  for (let j = 0; j < contrib.length && j < specs.length; j++) {
    const c = contrib[j];
    if (c * sign > 0) behind.push({ feature: specs[j].feature, contribution: c, description: c >= 0 ? specs[j].raises_approval : specs[j].lowers_approval });
  }
  return behind.sort((a, b) => (b.contribution - a.contribution) * sign).slice(0, MAX_FACTORS);
}
