// The loan-approval model: one ONNX session, loaded once, answering whole
// batches with one inference run.
import * as ort from "onnxruntime-node";
import { join } from "node:path";
import type { PredictRequest } from "../../gen/prediction/v1/prediction_service_pb.js";
import { featureEncoder } from "./loan-features.js";
import type { FactorSpec, ModelConfig } from "./model-config.js";

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

export class LoanModel {
  private constructor(
    readonly name: string,
    readonly version: string,
    private readonly session: ort.InferenceSession,
    private readonly config: ModelConfig,
    private readonly encode: (rows: readonly PredictRequest[]) => Float32Array,
  ) {}

  /** Loads `<dir>/model.onnx`, checks it against the config, and runs one warm-up inference. */
  static async load(config: ModelConfig, versionDir: string, version: string): Promise<LoanModel> {
    const path = join(versionDir, "model.onnx");
    const input = config.inputs[0];
    if (config.inputs.length !== 1 || !input.columns) throw new Error(`${config.name}: expects one input with "columns"`);
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    for (const name of [input.name]) {
      if (!session.inputNames.includes(name)) throw new Error(`${path}: no input "${name}" (has ${session.inputNames.join(", ")})`);
    }
    for (const name of ["approval_probability", "contributions"]) {
      if (!session.outputNames.includes(name)) throw new Error(`${path}: no output "${name}" (has ${session.outputNames.join(", ")})`);
    }
    const model = new LoanModel(config.name, version, session, config, featureEncoder(input.columns));
    await model.warmUp();
    return model;
  }

  private async warmUp(): Promise<void> {
    const width = this.config.inputs[0].columns!.length;
    await this.session.run({ [this.config.inputs[0].name]: new ort.Tensor("float32", new Float32Array(width), [1, width]) });
  }

  /** One ORT run for all rows; results in row order. */
  async predict(rows: readonly PredictRequest[]): Promise<LoanPrediction[]> {
    const input = this.config.inputs[0];
    const width = input.columns!.length;
    const feeds = { [input.name]: new ort.Tensor("float32", this.encode(rows), [rows.length, width]) };
    const out = await this.session.run(feeds);
    const prob = out.approval_probability.data as Float32Array;
    const contrib = out.contributions.data as Float32Array;
    const specs = this.config.factors ?? [];
    const k = out.contributions.dims[1] ?? 0;
    return rows.map((_, i) => {
      const p = prob[i];
      return { approvalProbability: p, factors: topFactors(contrib.subarray(i * k, (i + 1) * k), specs, p >= 0.5) };
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The reasons behind a decision: factors that pushed toward the decision
 * taken, largest first (a denied applicant learns what counted against them).
 */
export function topFactors(contrib: ArrayLike<number>, specs: readonly FactorSpec[], approved: boolean): Factor[] {
  const all: Factor[] = [];
  for (let j = 0; j < contrib.length; j++) {
    const c = contrib[j];
    const spec = specs[j];
    if (!spec) continue;
    all.push({ feature: spec.feature, contribution: c, description: c >= 0 ? spec.raises_approval : spec.lowers_approval });
  }
  const sign = approved ? 1 : -1;
  const behind = all.filter((f) => f.contribution * sign > 0).sort((a, b) => b.contribution * sign - a.contribution * sign);
  return behind.slice(0, MAX_FACTORS);
}
