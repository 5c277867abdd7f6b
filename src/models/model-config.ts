// A model's config.json: what its tensors are and how requests map onto them.
import { readFile } from "node:fs/promises";

export interface TensorSpec {
  name: string;
  dtype: string;
  /** -1 marks a dynamic dimension (the batch). */
  shape: number[];
  /** For a 2-D feature input: the request field feeding each column. */
  columns?: string[];
}

export interface FactorSpec {
  feature: string;
  raises_approval: string;
  lowers_approval: string;
}

export interface ModelConfig {
  name: string;
  task: string;
  description?: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  factors?: FactorSpec[];
}

export async function readModelConfig(path: string): Promise<ModelConfig> {
  const cfg = JSON.parse(await readFile(path, "utf8")) as ModelConfig;
  if (typeof cfg.name !== "string" || !Array.isArray(cfg.inputs) || !Array.isArray(cfg.outputs)) {
    throw new Error(`${path}: needs "name", "inputs" and "outputs"`);
  }
  return cfg;
}
