// Model repositories built at test time, in temp directories: empty, with a
// corrupt model, or with a small ONNX graph written here with onnx-proto.
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** The shipped loan-approval config (input `features` [N, 9], outputs [N, 1] and [N, 6]). */
export const SHIPPED_CONFIG = fileURLToPath(new URL("../../models/loan-approval/config.json", import.meta.url));

export interface TempRepo {
  /** The repository root (what MODEL_REPOSITORY points at). */
  dir: string;
  /** `<dir>/loan-approval/1/model.onnx` (may not exist). */
  modelPath: string;
  remove(): void;
}

function tempRepo(prefix: string): TempRepo {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    modelPath: join(dir, "loan-approval", "1", "model.onnx"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An empty directory: no `loan-approval` model at all. */
export function emptyRepository(): TempRepo {
  return tempRepo("pred-empty-repo-");
}

/** The shipped default image model, which readiness needs besides the loan model. */
export const SHIPPED_IMAGE_MODEL = fileURLToPath(new URL("../../models/shapes", import.meta.url));

/** The shipped config.json, and `model` as `loan-approval/1/model.onnx`; the shipped image model beside it. */
export function repositoryWithModel(model: Uint8Array, prefix = "pred-repo-", opts: { execution?: "worker" | "event_loop" } = {}): TempRepo {
  const repo = tempRepo(prefix);
  cpSync(SHIPPED_IMAGE_MODEL, join(repo.dir, "shapes"), { recursive: true });
  mkdirSync(join(repo.dir, "loan-approval", "1"), { recursive: true });
  const configPath = join(repo.dir, "loan-approval", "config.json");
  copyFileSync(SHIPPED_CONFIG, configPath);
  if (opts.execution) {
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    config.session = { ...config.session, execution: opts.execution };
    writeFileSync(configPath, JSON.stringify(config, null, 2));
  }
  writeFileSync(repo.modelPath, model);
  return repo;
}

/** Bytes that are not an ONNX model (not even a valid protobuf), fixed so runs are repeatable. */
export const GARBAGE_MODEL = Buffer.from(
  "this is not an onnx model \u0000\u00ff\u00fe\u0007\u0007\u0007 but garbage bytes that no protobuf parser accepts \u00ff\u00ff\u00ff\u00ff\u00ff",
  "latin1",
);

type TensorProto = InstanceType<typeof onnx.TensorProto>;
type NodeProto = InstanceType<typeof onnx.NodeProto>;

const int64 = (name: string, values: number[]): TensorProto =>
  onnx.TensorProto.create({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values });

const node = (opType: string, inputs: string[], outputs: string[]): NodeProto =>
  onnx.NodeProto.create({ name: outputs[0], opType, input: inputs, output: outputs });

const batched = (name: string, columns: number) =>
  onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: "batch" }, { dimValue: columns }] },
      },
    },
  });

/**
 * A model with the loan-approval interface (features [N, 9] in,
 * approval_probability [N, 1] and contributions [N, 6] out) that only works
 * for N = 1: it first reshapes `features` to the fixed shape [1, 9], which
 * onnxruntime refuses at run time for any other batch size. It loads and
 * passes the server's one-row warm-up; a batch of two fails inside
 * onnxruntime. For N = 1 it answers probability 0.5 and zero contributions.
 */
export function batchOfOneModel(): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: "batch_of_one",
    node: [
      node("Reshape", ["features", "one_by_nine"], ["row"]),
      node("Slice", ["row", "start0", "end1", "axis1"], ["first_column"]),
      node("Mul", ["first_column", "zero"], ["logit"]),
      node("Sigmoid", ["logit"], ["approval_probability"]),
      node("Slice", ["row", "start0", "end6", "axis1"], ["six_columns"]),
      node("Mul", ["six_columns", "zero"], ["contributions"]),
    ],
    initializer: [
      int64("one_by_nine", [1, 9]),
      int64("start0", [0]),
      int64("end1", [1]),
      int64("end6", [6]),
      int64("axis1", [1]),
      onnx.TensorProto.create({ name: "zero", dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [0] }),
    ],
    input: [batched("features", 9)],
    output: [batched("approval_probability", 1), batched("contributions", 6)],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 13 }],
    producerName: "prediction-server/test/support/model-repos.ts",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A model with the loan-approval interface whose outputs are not finite for
 * one credit score each: approval_probability is (s - 700) / (s - 700), NaN
 * at 700 and 1 elsewhere; every contribution is 1 / (s - 701), +Infinity at
 * 701. Any other score gets finite outputs.
 */
export function nonFiniteModel(): Uint8Array {
  const f32 = (name: string, value: number) => onnx.TensorProto.create({ name, dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [value] });
  const graph = onnx.GraphProto.create({
    name: "non_finite",
    node: [
      node("Slice", ["features", "start2", "end3", "axis1"], ["credit_score"]),
      node("Sub", ["credit_score", "c700"], ["from_700"]),
      node("Div", ["from_700", "from_700"], ["approval_probability"]),
      node("Sub", ["credit_score", "c701"], ["from_701"]),
      node("Div", ["one", "from_701"], ["inverse"]),
      node("Slice", ["features", "start0", "end6", "axis1"], ["six_columns"]),
      node("Mul", ["six_columns", "zero"], ["zeros"]),
      node("Add", ["zeros", "inverse"], ["contributions"]),
    ],
    initializer: [
      int64("start0", [0]),
      int64("start2", [2]),
      int64("end3", [3]),
      int64("end6", [6]),
      int64("axis1", [1]),
      f32("c700", 700),
      f32("c701", 701),
      f32("one", 1),
      f32("zero", 0),
    ],
    input: [batched("features", 9)],
    output: [batched("approval_probability", 1), batched("contributions", 6)],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 13 }],
    producerName: "prediction-server/test/support/model-repos.ts",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
