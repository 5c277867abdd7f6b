// An ImageNet-shaped classifier dropped into the model repository, as a model
// from the ONNX model zoo would be: scripts/make-imagenet-model.ts writes its
// config.json (224x224 NCHW RGB, resize "cover", ImageNet mean/std, 1000
// logits), labels.txt and a small MobileNetV2-shaped graph with random
// weights into a temp repository next to a copy of models/loan-approval. The
// server must serve it by name over ClassifyImage and PredictImage, describe it
// in GetModelMetadata, and preprocess exactly as its config says: the test
// builds the input tensor itself (sharp + normalisation) and runs the same
// ONNX file with onnxruntime-node directly.
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelVersionState, PredictionService, type ImageClassification, type LabelScore } from "../gen/prediction/v1/prediction_service_pb.js";
import { buildImagenetModel, IMAGENET_MEAN, IMAGENET_STD, writeImagenetModel, type WrittenImagenetModel } from "../scripts/make-imagenet-model.js";
import { drain, grpcJsImageStream, imageMessages } from "./support/image-streams.js";
import { renderShape } from "./support/shape-images.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";
import { ms } from "./support/durations.js";

const AUTH = { "x-api-key": API_KEY };
const MODEL = "imagenet-sim";
const SEED = 7;
const SIZE = 224;
const LOAN_MODEL_DIR = fileURLToPath(new URL("../models/loan-approval", import.meta.url));
const SCRIPT = fileURLToPath(new URL("../scripts/make-imagenet-model.ts", import.meta.url));

let repo: string;
let written: WrittenImagenetModel;
let server: TestServer;
let session: ort.InferenceSession;

/** Raw RGB pixels with structure everywhere (gradients and stripes), so that crops and channel order matter. */
async function knownImage(width: number, height: number, format: "png" | "jpeg" = "png"): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = Math.round((255 * x) / (width - 1));
      px[i + 1] = Math.round((255 * y) / (height - 1));
      px[i + 2] = (Math.floor(x / 4) + Math.floor(y / 6)) % 2 === 0 ? 230 : 20;
    }
  }
  const img = sharp(px, { raw: { width, height, channels: 3 } });
  return format === "png" ? img.png().toBuffer() : img.jpeg({ quality: 95 }).toBuffer();
}

interface Preprocessing {
  fit: "cover" | "fill";
  mean: readonly number[];
  std: readonly number[];
  bgr: boolean;
}

const AS_CONFIGURED: Preprocessing = { fit: "cover", mean: IMAGENET_MEAN, std: IMAGENET_STD, bgr: false };

/** The model's input tensor [1, 3, 224, 224], computed here from the image's bytes. */
async function inputTensor(image: Buffer, p: Preprocessing): Promise<Float32Array> {
  const { data, info } = await sharp(image).resize(SIZE, SIZE, { fit: p.fit }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([SIZE, SIZE, 3]);
  const plane = SIZE * SIZE;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const src = p.bgr ? 2 - c : c;
    for (let i = 0; i < plane; i++) out[c * plane + i] = (data[i * 3 + src]! / 255 - p.mean[c]!) / p.std[c]!;
  }
  return out;
}

/** Label scores (softmax of the logits), best first, from running the ONNX file here. */
async function localTop(tensor: Float32Array, k: number): Promise<Array<{ label: string; score: number }>> {
  const out = await session.run({ input: new ort.Tensor("float32", tensor, [1, 3, SIZE, SIZE]) });
  const logits = out.logits!;
  expect(logits.dims).toEqual([1, 1000]);
  const x = Array.from(logits.data as Float32Array);
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e
    .map((v, i) => ({ label: written.labels[i]!, score: v / sum }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

/** Largest score difference between two top-k lists, or Infinity if their labels differ. */
function distance(a: Array<{ label: string; score: number }>, b: Array<{ label: string; score: number }>): number {
  if (a.map((l) => l.label).join() !== b.map((l) => l.label).join()) return Infinity;
  return Math.max(...a.map((l, i) => Math.abs(l.score - b[i]!.score)));
}

function expectWellFormed(c: ImageClassification | undefined, topK: number) {
  expect(c).toBeDefined();
  expect(c!.modelName).toBe(MODEL);
  expect(c!.modelVersion).toBe("1");
  expect(c!.labels).toHaveLength(topK);
  const known = new Set(written.labels);
  for (const l of c!.labels) expect(known.has(l.label), l.label).toBe(true);
  expect(new Set(c!.labels.map((l) => l.label)).size).toBe(topK);
  for (let i = 1; i < topK; i++) expect(c!.labels[i]!.score).toBeLessThanOrEqual(c!.labels[i - 1]!.score);
  for (const l of c!.labels) expect(l.score).toBeGreaterThan(0);
  expect(c!.labels.reduce((a, l) => a + l.score, 0)).toBeLessThanOrEqual(1 + 1e-5);
  expect(ms(c!.decodeTime)).toBeGreaterThan(0);
  expect(ms(c!.inferenceTime)).toBeGreaterThan(0);
}

const plain = (labels: LabelScore[]) => labels.map((l) => ({ label: l.label, score: l.score }));

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "imagenet-repo-"));
  cpSync(LOAN_MODEL_DIR, join(repo, "loan-approval"), { recursive: true });
  written = writeImagenetModel(join(repo, MODEL), { seed: SEED });
  session = await ort.InferenceSession.create(written.modelPath, { intraOpNumThreads: 1 });
  // IMAGE_MODEL is not set: the default image model ("shapes") is not in this repository.
  server = await startTestServer({ MODEL_REPOSITORY: repo });
});

afterAll(async () => {
  await server?.close();
  await session?.release();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe("scripts/make-imagenet-model.ts", () => {
  it("writes config.json, 1000 labels and a MobileNetV2-shaped ONNX graph", () => {
    expect(written.name).toBe(MODEL);
    const config = JSON.parse(readFileSync(written.configPath, "utf8"));
    expect(config).toMatchObject({
      name: MODEL,
      task: "image_classification",
      inputs: [{ name: "input", dtype: "float32", shape: [-1, 3, 224, 224] }],
      outputs: [{ name: "logits", dtype: "float32", shape: [-1, 1000] }],
      labels_file: "labels.txt",
      preprocessing: {
        image: {
          width: 224,
          height: 224,
          resize: "cover",
          layout: "NCHW",
          channel_order: "RGB",
          scale: 255,
          mean: [0.485, 0.456, 0.406],
          std: [0.229, 0.224, 0.225],
          output: "logits",
        },
      },
    });
    const lines = readFileSync(written.labelsPath, "utf8")
      .split("\n")
      .filter((l) => l !== "");
    expect(lines).toHaveLength(1000);
    expect(new Set(lines).size).toBe(1000);
    expect(session.inputNames).toEqual(["input"]);
    expect(session.outputNames).toEqual(["logits"]);
  });

  it("is deterministic for a seed, differs across seeds, and its CLI writes the same bytes", async () => {
    const model = readFileSync(written.modelPath);
    expect(Buffer.from(buildImagenetModel({ seed: SEED })).equals(model)).toBe(true);
    expect(Buffer.from(buildImagenetModel({ seed: SEED + 1 })).equals(model)).toBe(false);
    const out = join(repo, "..", `${MODEL}-cli-${process.pid}`);
    try {
      const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", SCRIPT, out, "--seed", String(SEED)], {
        cwd: fileURLToPath(new URL("..", import.meta.url)),
      });
      expect(stdout).toContain("wrote model");
      expect(readFileSync(join(out, "1", "model.onnx")).equals(model)).toBe(true);
      expect(readFileSync(join(out, "labels.txt"), "utf8")).toBe(readFileSync(written.labelsPath, "utf8"));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("scripts/make-imagenet-model.ts --full (the benchmark's model)", () => {
  it("builds MobileNetV2's layers and sizes: 17 inverted residual blocks, 10 residual Adds, 3.5 M weights, finite and input-dependent logits", async () => {
    const bytes = buildImagenetModel({ seed: SEED, architecture: "mobilenetv2" });
    const full = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    try {
      const x = new Float32Array(2 * 3 * 224 * 224);
      for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.001) * (i < x.length / 2 ? 1 : 2);
      const out = await full.run({ input: new ort.Tensor("float32", x, [2, 3, 224, 224]) });
      const logits = out.logits!;
      expect(logits.dims).toEqual([2, 1000]);
      const v = logits.data as Float32Array;
      expect(v.every(Number.isFinite)).toBe(true);
      expect(Array.from(v.subarray(0, 1000))).not.toEqual(Array.from(v.subarray(1000)));
    } finally {
      await full.release();
    }
    // The graph itself: its operators and its weights.
    const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
    const ops = (type: string) => graph.node!.filter((n) => n.opType === type);
    const depthwise = ops("Conv").filter((n) => n.attribute!.some((a) => a.name === "group" && Number(a.i) > 1));
    expect(depthwise).toHaveLength(17);
    expect(ops("Add")).toHaveLength(10);
    expect(ops("Conv")).toHaveLength(1 + 16 + 17 + 17 + 1); // stem, 16 expansions (not the first block), 17 depthwise, 17 projections, head
    const weights = graph.initializer!.reduce((n, t) => n + t.dims!.reduce((a: number, b) => a * Number(b), 1), 0);
    expect(weights / 1e6).toBeGreaterThan(3.4);
    expect(weights / 1e6).toBeLessThan(3.6);
  });
});

describe("the server with an ImageNet-shaped model in its repository", () => {
  it("describes it in ListModels and GetModelMetadata", async () => {
    const client = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const list = await client.listModels({}, { headers: AUTH });
    expect(list.models.map((m) => m.name)).toEqual(["imagenet-sim", "loan-approval"]);
    const md = await client.getModelMetadata({ name: MODEL }, { headers: AUTH });
    expect(md.model?.task).toBe("image_classification");
    expect(md.model?.defaultVersion).toBe("1");
    expect(md.model?.versions.map((v) => [v.version, v.state])).toEqual([["1", ModelVersionState.READY]]);
    expect(md.inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape.map(Number) }))).toEqual([
      { name: "input", dtype: "float32", shape: [-1, 3, 224, 224] },
    ]);
    expect(md.outputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape.map(Number) }))).toEqual([
      { name: "logits", dtype: "float32", shape: [-1, 1000] },
    ]);
    expect(md.labels).toEqual(written.labels);
    // Its task says which request it answers; its config names no headline metrics.
    expect(md.requestMessage).toBe("prediction.v1.ClassifyImageRequest");
    expect(md.headlineMetrics).toEqual([]);
    expect(list.metadata.map((m) => m.model?.name)).toEqual(["imagenet-sim", "loan-approval"]);
  });

  it("classifies with ClassifyImage (gRPC and Connect JSON) when the request names the model", async () => {
    const png = await renderShape("star", 901_001, 160);
    const grpcClient = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const jsonClient = createClient(PredictionService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" }));
    const expected = await localTop(await inputTensor(png, AS_CONFIGURED), 7);
    for (const client of [grpcClient, jsonClient]) {
      const res = await client.classifyImage({ image: png, contentType: "image/png", topK: 7, modelName: MODEL }, { headers: AUTH });
      expectWellFormed(res.classification, 7);
      expect(distance(plain(res.classification!.labels), expected)).toBeLessThanOrEqual(1e-4);
      const pinned = await client.classifyImage({ image: png, contentType: "image/png", topK: 3, modelName: MODEL, modelVersion: "1" }, { headers: AUTH });
      expectWellFormed(pinned.classification, 3);
    }
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    const noVersion = await fail(grpcClient.classifyImage({ image: png, contentType: "image/png", modelName: MODEL, modelVersion: "2" }, { headers: AUTH }));
    expect(noVersion?.code).toBe(Code.NotFound);
    // No model named, and the default image model is not in this repository.
    const noDefault = await fail(grpcClient.classifyImage({ image: png, contentType: "image/png" }, { headers: AUTH }));
    expect(noDefault?.code, noDefault?.rawMessage).toBe(Code.NotFound);
    expect(noDefault?.rawMessage).toMatch(/shapes/);
    // The loan model is no image model.
    const notImage = await fail(grpcClient.classifyImage({ image: png, contentType: "image/png", modelName: "loan-approval" }, { headers: AUTH }));
    expect(notImage?.code, notImage?.rawMessage).toBe(Code.FailedPrecondition);
  });

  it("classifies the images of a PredictImage stream whose headers name the model", async () => {
    const images = await Promise.all([
      knownImage(300, 200),
      knownImage(90, 260, "jpeg"),
      renderShape("ring", 901_002, 128),
      sharp(await renderShape("cross", 901_003, 128))
        .webp()
        .toBuffer(),
    ]);
    const types = ["image/png", "image/jpeg", "image/png", "image/webp"];
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    const stream = grpcJsImageStream(client, AUTH);
    try {
      for (const [i, img] of images.entries()) {
        stream.send(...imageMessages(`img-${i}`, img, { contentType: types[i], modelName: MODEL, topK: 10, sizeBytes: i % 2 === 0, chunkSize: 4096 }));
      }
      // No model named: the default ("shapes") is not in this repository; that image alone fails.
      stream.send(...imageMessages("default-model", images[2]!, { sizeBytes: true }));
      stream.send(...imageMessages("img-again", images[0]!, { modelName: MODEL, modelVersion: "1", topK: 1 }));
      stream.end();
      const { answers, end } = await drain(stream);
      expect(end.code, end.message).toBe(0);
      expect(answers.map((a) => a.id)).toEqual(["img-0", "img-1", "img-2", "img-3", "default-model", "img-again"]);
      const inferenceMs: number[] = [];
      for (const [i, a] of answers.slice(0, 4).entries()) {
        expect(a.result.case, a.result.case === "error" ? a.result.value.message : "").toBe("classification");
        const c = a.result.value as ImageClassification;
        expectWellFormed(c, 10);
        inferenceMs.push(ms(c.inferenceTime));
        const expected = await localTop(await inputTensor(images[i]!, AS_CONFIGURED), 10);
        expect(distance(plain(c.labels), expected), `img-${i}`).toBeLessThanOrEqual(1e-4);
      }
      const def = answers[4]!;
      expect(def.result.case).toBe("error");
      expect((def.result.value as { code: number }).code).toBe(Code.NotFound);
      const again = answers[5]!.result.value as ImageClassification;
      expectWellFormed(again, 1);
      expect(again.labels[0]!.label).toBe((answers[0]!.result.value as ImageClassification).labels[0]!.label);
      console.log(`imagenet-sim: server inference_time per image ${inferenceMs.map((v) => v.toFixed(2)).join(", ")} ms`);
      // A few milliseconds each on a quiet machine; seconds would mean a wrong graph.
      for (const v of inferenceMs) expect(v).toBeLessThan(1_000);
    } finally {
      stream.cancel();
      await stream.ended;
      client.close();
    }
  });

  it.each([
    ["landscape PNG 60x36", 60, 36, "png"],
    ["portrait PNG 30x70", 30, 70, "png"],
    ["landscape JPEG 300x200", 300, 200, "jpeg"],
  ] as const)("preprocesses exactly as the config says: cover to 224, /255, ImageNet mean/std, NCHW RGB (%s)", async (_, w, h, format) => {
    const image = await knownImage(w, h, format);
    const client = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const res = await client.classifyImage({ image, contentType: `image/${format}`, topK: 5, modelName: MODEL }, { headers: AUTH });
    expectWellFormed(res.classification, 5);
    const served = plain(res.classification!.labels);

    const expected = await localTop(await inputTensor(image, AS_CONFIGURED), 5);
    expect(served[0]!.label).toBe(expected[0]!.label);
    expect(Math.abs(served[0]!.score - expected[0]!.score)).toBeLessThanOrEqual(1e-4);
    expect(distance(served, expected), `server ${JSON.stringify(served)}\nlocal ${JSON.stringify(expected)}`).toBeLessThanOrEqual(1e-4);

    // The comparison can tell preprocessing apart: each plausible mistake gives a clearly different answer.
    const mistakes: Record<string, Preprocessing> = {
      "fill instead of cover": { ...AS_CONFIGURED, fit: "fill" },
      "BGR instead of RGB": { ...AS_CONFIGURED, bgr: true },
      "no mean/std": { ...AS_CONFIGURED, mean: [0, 0, 0], std: [1, 1, 1] },
      "another model's mean/std": { ...AS_CONFIGURED, mean: [0.5, 0.5, 0.5], std: [0.29, 0.3, 0.29] },
    };
    for (const [name, p] of Object.entries(mistakes)) {
      const wrong = await localTop(await inputTensor(image, p), 5);
      expect(distance(served, wrong), `${name} should not match what the server answers`).toBeGreaterThan(1e-3);
    }
  });
});
