/**
 * Writes a deliberately slow ONNX model, for tests and benchmarks that need an
 * inference long enough to observe (e.g. that the event loop stays free while
 * the inference pool runs it on a worker thread).
 *
 *   npx tsx scripts/make-slow-model.ts out.onnx [--layers 64] [--width 512] [--seed 1] [--loan]
 *
 * Interface:
 *   input  x  float32 [batch, width]
 *   output y  float32 [batch, width]
 * Graph: `layers` times (MatMul with a width x width weight matrix, then Relu).
 *
 * With `loan: true` the same chain sits behind the loan model's interface
 * (input `features` [batch, 9]; outputs `approval_probability` [batch, 1] and
 * `contributions` [batch, 6]), so the server can serve it as a slow
 * `loan-approval` model in tests of the whole call path.
 * The cost of one run is about 2 * batch * width^2 * layers floating-point
 * operations, so it is tuned with `layers` (and the batch size the caller feeds).
 *
 * Weights are pseudo-random from a seeded generator (He-uniform scale, so values
 * neither explode nor vanish through the Relu chain), and nothing time-dependent
 * is written: the same options always produce the same bytes. The file is meant
 * to be generated where it is needed (a temp dir in tests), never committed —
 * 64 layers of 512 x 512 float32 weights is 64 MiB.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

const OPSET = 13;
const IR_VERSION = 8;

export interface SlowModelOptions {
  /** Number of MatMul + Relu layers. Default 64. */
  layers?: number;
  /** Width of the input, of every hidden layer and of the output. Default 512. */
  width?: number;
  /** Seed of the weight generator. Default 1. */
  seed?: number;
  /** Wrap the chain in the loan model's input and outputs. Default false. */
  loan?: boolean;
}

/** Small deterministic PRNG (xorshift32), returning floats in [0, 1). */
function makeRandom(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

/** float32 [rows, cols] initializer, stored as little-endian raw bytes (fast to encode and to load). */
function weightMatrix(name: string, rows: number, cols: number, random: () => number) {
  const limit = Math.sqrt(6 / rows);
  const bytes = new Uint8Array(rows * cols * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < rows * cols; i++) {
    view.setFloat32(i * 4, (random() * 2 - 1) * limit, true);
  }
  return onnx.TensorProto.create({ name, dims: [rows, cols], dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
}

function batchedFloat(name: string, width: number) {
  return batchedTensor(name, width);
}

function batchedTensor(name: string, width: number) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: "batch" }, { dimValue: width }] },
      },
    },
  });
}

/** Builds the model and returns its serialized bytes. */
export function buildSlowModel(options: SlowModelOptions = {}): Uint8Array {
  const layers = options.layers ?? 64;
  const width = options.width ?? 512;
  if (!Number.isInteger(layers) || layers < 1) throw new Error(`layers must be a positive integer, got ${layers}`);
  if (!Number.isInteger(width) || width < 1) throw new Error(`width must be a positive integer, got ${width}`);
  const random = makeRandom(options.seed ?? 1);

  const initializer = [];
  const node = [];
  let previous = "x";
  if (options.loan) {
    // features [batch, 9] -> [batch, width], then the chain.
    initializer.push(weightMatrix("w_in", 9, width, random));
    node.push(onnx.NodeProto.create({ name: "input_projection", opType: "MatMul", input: ["features", "w_in"], output: ["x"] }));
  }
  for (let layer = 0; layer < layers; layer++) {
    const weights = `w${layer}`;
    const product = `matmul${layer}`;
    const activation = layer === layers - 1 ? "y" : `relu${layer}`;
    initializer.push(weightMatrix(weights, width, width, random));
    node.push(onnx.NodeProto.create({ name: product, opType: "MatMul", input: [previous, weights], output: [product] }));
    node.push(onnx.NodeProto.create({ name: activation, opType: "Relu", input: [product], output: [activation] }));
    previous = activation;
  }

  let input = [batchedFloat("x", width)];
  let output = [batchedFloat("y", width)];
  if (options.loan) {
    initializer.push(weightMatrix("w_p", width, 1, random), weightMatrix("w_c", width, 6, random));
    node.push(
      onnx.NodeProto.create({ name: "logit", opType: "MatMul", input: ["y", "w_p"], output: ["logit"] }),
      onnx.NodeProto.create({ name: "probability", opType: "Sigmoid", input: ["logit"], output: ["approval_probability"] }),
      onnx.NodeProto.create({ name: "contributions", opType: "MatMul", input: ["y", "w_c"], output: ["contributions"] }),
    );
    input = [batchedTensor("features", 9)];
    output = [batchedTensor("approval_probability", 1), batchedTensor("contributions", 6)];
  }
  const graph = onnx.GraphProto.create({
    name: "slow_model",
    docString: `${layers} x (MatMul ${width}x${width} + Relu); deliberately slow, for tests`,
    node,
    initializer,
    input,
    output,
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "prediction-server/scripts/make-slow-model.ts",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Writes the slow model to `path` (creating its directory). */
export function writeSlowModel(path: string, options: SlowModelOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, buildSlowModel(options));
}

function parseCli(argv: string[]): { path: string; options: SlowModelOptions } {
  let path: string | undefined;
  const options: SlowModelOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const flag = /^--(layers|width|seed)(?:=(.*))?$/.exec(arg);
    if (flag) {
      const raw = flag[2] ?? argv[++i];
      const value = Number(raw);
      if (raw === undefined || !Number.isInteger(value)) throw new Error(`--${flag[1]} needs an integer, got ${raw}`);
      options[flag[1] as "layers" | "width" | "seed"] = value;
    } else if (arg === "--loan") {
      options.loan = true;
    } else if (arg.startsWith("--") || path !== undefined) {
      throw new Error(`unexpected argument ${arg}`);
    } else {
      path = arg;
    }
  }
  if (path === undefined) {
    throw new Error("usage: npx tsx scripts/make-slow-model.ts <out.onnx> [--layers N] [--width N] [--seed N]");
  }
  return { path, options };
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    const { path, options } = parseCli(process.argv.slice(2));
    writeSlowModel(path, options);
    console.log(`wrote ${path} (layers ${options.layers ?? 64}, width ${options.width ?? 512})`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  }
}
