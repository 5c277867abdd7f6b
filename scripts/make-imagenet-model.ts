/**
 * Writes a model repository entry shaped like an ImageNet classifier taken
 * from the ONNX model zoo and dropped into the repository, so the server's
 * image path can be tested against a "real-world" interface without shipping
 * or downloading a real model:
 *
 *   npx tsx scripts/make-imagenet-model.ts <dir> [--seed N] [--version N] [--full]
 *
 * writes
 *   <dir>/config.json    input "input" float32 [-1, 3, 224, 224] (NCHW, RGB),
 *                        resize "cover", scale 255, ImageNet mean and std;
 *                        output "logits" float32 [-1, 1000] (softmax by the server)
 *   <dir>/labels.txt     1000 labels, class_0000 .. class_0999
 *   <dir>/1/model.onnx   a MobileNetV2-shaped graph with seeded random weights
 *
 * The model entry's name is the directory's base name (the repository serves
 * a model under its directory name; config.json's "name" must agree).
 *
 * Graphs (--full picks the second):
 * - "small" (the default, for tests): a 3x3 stride-2 stem convolution, then
 *   four blocks of a depthwise 3x3 stride-2 convolution and a pointwise 1x1
 *   convolution (each followed by Relu, except the last pointwise one, which
 *   stays linear as in MobileNetV2's bottlenecks, so the pooled features are
 *   signed and differ from image to image), GlobalAveragePool, Flatten and a
 *   Gemm to 1000 logits. 224x224 comes down to 7x7x256 before pooling, as in
 *   the real network, at about 13 M multiply-adds per image: a few
 *   milliseconds, not seconds.
 * - "mobilenetv2" (for the benchmark): the real network's layers and sizes
 *   (Sandler et al. 2018, width 1.0): a 32-channel stem, 17 inverted residual
 *   blocks (1x1 expansion by 6, depthwise 3x3, linear 1x1 projection,
 *   residual Add where the shape allows), a 1x1 convolution to 1280, pooling
 *   and the 1000-way Gemm: 3.5 M weights, about 300 M multiply-adds per
 *   image. Batch normalization is folded away (a trained network's would be
 *   folded into the convolutions anyway) and Relu stands in for Relu6.
 *
 * The same seed always gives the same bytes. Nothing here is meant to be
 * committed: tests generate it into a temp directory.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

const OPSET = 13;
const IR_VERSION = 8;
export const IMAGENET_CLASSES = 1000;
export const IMAGENET_SIZE = 224;
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

export type ImagenetArchitecture = "small" | "mobilenetv2";

export interface ImagenetModelOptions {
  /** Seed of the weight generator. Default 1. */
  seed?: number;
  /** The graph (see above). Default "small". */
  architecture?: ImagenetArchitecture;
  /** Model version directory. Default "1". */
  version?: string;
}

export interface WrittenImagenetModel {
  /** The model name: the directory's base name. */
  name: string;
  configPath: string;
  labelsPath: string;
  modelPath: string;
  labels: string[];
}

type TensorProto = InstanceType<typeof onnx.TensorProto>;
type NodeProto = InstanceType<typeof onnx.NodeProto>;

/** Seeded normal draws (xorshift32 + Box-Muller). */
function makeNormal(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  const uniform = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 0.5) / 0x1_0000_0000;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function floatTensor(name: string, dims: number[], value: () => number): TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(n * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) view.setFloat32(i * 4, value(), true);
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytes });
}

const ints = (name: string, values: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
const int = (name: string, value: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });

function imageTensor(name: string, dims: Array<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

/** Builds the graph and returns its serialized bytes. */
export function buildImagenetModel(options: ImagenetModelOptions = {}): Uint8Array {
  const normal = makeNormal(options.seed ?? 1);
  const initializer: TensorProto[] = [];
  const node: NodeProto[] = [];
  let previous = "input";
  let channels = 3;

  /** Conv (+ Relu unless linear); He-normal weights (times gain), small biases. */
  const conv = (name: string, out: number, kernel: number, stride: number, group: number, relu: boolean, gain = 1) => {
    const fanIn = (channels / group) * kernel * kernel;
    const std = gain * Math.sqrt(2 / fanIn);
    initializer.push(floatTensor(`${name}.weight`, [out, channels / group, kernel, kernel], () => normal() * std));
    initializer.push(floatTensor(`${name}.bias`, [out], () => normal() * 0.01));
    const pad = (kernel - 1) / 2;
    const output = relu ? `${name}.conv` : name;
    node.push(
      onnx.NodeProto.create({
        name,
        opType: "Conv",
        input: [previous, `${name}.weight`, `${name}.bias`],
        output: [output],
        attribute: [ints("kernel_shape", [kernel, kernel]), ints("strides", [stride, stride]), ints("pads", [pad, pad, pad, pad]), int("group", group)],
      }),
    );
    if (relu) node.push(onnx.NodeProto.create({ name: `${name}.relu`, opType: "Relu", input: [output], output: [name] }));
    previous = name;
    channels = out;
  };

  if (options.architecture === "mobilenetv2") {
    conv("stem", 32, 3, 2, 1, true); // 112x112x32
    // (expansion t, output channels c, repeats n, first stride s), as in the paper's Table 2.
    const stages: Array<[number, number, number, number]> = [
      [1, 16, 1, 1],
      [6, 24, 2, 2],
      [6, 32, 3, 2],
      [6, 64, 4, 2],
      [6, 96, 3, 1],
      [6, 160, 3, 2],
      [6, 320, 1, 1],
    ];
    let block = 0;
    for (const [t, c, n, s] of stages) {
      for (let i = 0; i < n; i++, block++) {
        const input = previous;
        const inChannels = channels;
        const stride = i === 0 ? s : 1;
        if (t !== 1) conv(`block${block}.expand`, inChannels * t, 1, 1, 1, true);
        conv(`block${block}.depthwise`, channels, 3, stride, channels, true);
        // A small linear projection keeps the random residual stream from growing block after block.
        conv(`block${block}.project`, c, 1, 1, 1, false, 0.5);
        if (stride === 1 && inChannels === c) {
          node.push(onnx.NodeProto.create({ name: `block${block}.add`, opType: "Add", input: [input, previous], output: [`block${block}.sum`] }));
          previous = `block${block}.sum`;
        }
      }
    }
    conv("head", 1280, 1, 1, 1, true); // 7x7x1280
  } else {
    conv("stem", 16, 3, 2, 1, true); // 112x112x16
    const widths = [32, 64, 128, 256]; // 56, 28, 14, 7
    widths.forEach((width, i) => {
      conv(`block${i}.depthwise`, channels, 3, 2, channels, true);
      conv(`block${i}.pointwise`, width, 1, 1, 1, i < widths.length - 1);
    });
  }
  node.push(onnx.NodeProto.create({ name: "pool", opType: "GlobalAveragePool", input: [previous], output: ["pool"] }));
  node.push(onnx.NodeProto.create({ name: "flatten", opType: "Flatten", input: ["pool"], output: ["features"], attribute: [int("axis", 1)] }));
  // Scaled so that the softmax has a clear winner rather than 1000 near-equal scores.
  const classifierStd = 4 / Math.sqrt(channels);
  initializer.push(floatTensor("classifier.weight", [IMAGENET_CLASSES, channels], () => normal() * classifierStd));
  initializer.push(floatTensor("classifier.bias", [IMAGENET_CLASSES], () => normal() * 0.01));
  node.push(
    onnx.NodeProto.create({
      name: "classifier",
      opType: "Gemm",
      input: ["features", "classifier.weight", "classifier.bias"],
      output: ["logits"],
      attribute: [int("transB", 1)],
    }),
  );

  const graph = onnx.GraphProto.create({
    name: "imagenet_sim",
    docString: "MobileNetV2-shaped stand-in for an ImageNet classifier; random weights, for tests",
    node,
    initializer,
    input: [imageTensor("input", ["batch", 3, IMAGENET_SIZE, IMAGENET_SIZE])],
    output: [imageTensor("logits", ["batch", IMAGENET_CLASSES])],
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "prediction-server/scripts/make-imagenet-model.ts",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

export function imagenetLabels(): string[] {
  return Array.from({ length: IMAGENET_CLASSES }, (_, i) => `class_${String(i).padStart(4, "0")}`);
}

/** The config.json a model-zoo ImageNet classifier needs in this server's repository. */
export function imagenetConfig(name: string) {
  return {
    name,
    task: "image_classification",
    description: "Stand-in for an ONNX model zoo ImageNet classifier (MobileNetV2-shaped, random weights): 224x224 RGB in, 1000 logits out.",
    inputs: [{ name: "input", dtype: "float32", shape: [-1, 3, IMAGENET_SIZE, IMAGENET_SIZE] }],
    outputs: [{ name: "logits", dtype: "float32", shape: [-1, IMAGENET_CLASSES] }],
    labels_file: "labels.txt",
    preprocessing: {
      image: {
        width: IMAGENET_SIZE,
        height: IMAGENET_SIZE,
        resize: "cover",
        layout: "NCHW",
        channel_order: "RGB",
        scale: 255,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
        output: "logits",
      },
    },
    batching: { max_batch_size: 16, max_queue_delay_us: 0, max_queue_rows: 256 },
    session: { intra_op_threads: 1, graph_optimization_level: "all" },
  };
}

/** Writes config.json, labels.txt and <version>/model.onnx into `dir` (created if needed). */
export function writeImagenetModel(dir: string, options: ImagenetModelOptions = {}): WrittenImagenetModel {
  const name = basename(resolve(dir));
  const version = options.version ?? "1";
  if (!/^[0-9]{1,9}$/.test(version)) throw new Error(`version must be 1..9 digits, got ${version}`);
  const labels = imagenetLabels();
  mkdirSync(join(dir, version), { recursive: true });
  const configPath = join(dir, "config.json");
  const labelsPath = join(dir, "labels.txt");
  const modelPath = join(dir, version, "model.onnx");
  // The model first: the repository loads a version once config.json is there.
  writeFileSync(modelPath, buildImagenetModel(options));
  writeFileSync(labelsPath, `${labels.join("\n")}\n`);
  writeFileSync(configPath, `${JSON.stringify(imagenetConfig(name), null, 2)}\n`);
  return { name, configPath, labelsPath, modelPath, labels };
}

function parseCli(argv: string[]): { dir: string; options: ImagenetModelOptions } {
  let dir: string | undefined;
  const options: ImagenetModelOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = /^--(seed|version)(?:=(.*))?$/.exec(arg);
    if (arg === "--full") {
      options.architecture = "mobilenetv2";
    } else if (flag) {
      const raw = flag[2] ?? argv[++i];
      if (raw === undefined) throw new Error(`--${flag[1]} needs a value`);
      if (flag[1] === "seed") {
        const value = Number(raw);
        if (!Number.isInteger(value)) throw new Error(`--seed needs an integer, got ${raw}`);
        options.seed = value;
      } else options.version = raw;
    } else if (arg.startsWith("--") || dir !== undefined) {
      throw new Error(`unexpected argument ${arg}`);
    } else {
      dir = arg;
    }
  }
  if (dir === undefined) throw new Error("usage: npx tsx scripts/make-imagenet-model.ts <model-dir> [--seed N] [--version N] [--full]");
  return { dir, options };
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  try {
    const { dir, options } = parseCli(process.argv.slice(2));
    const written = writeImagenetModel(dir, options);
    console.log(`wrote model ${written.name}: ${written.configPath}, ${written.labelsPath}, ${written.modelPath}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  }
}
