// What the load carries, made once per run: request bodies (gRPC frames,
// gRPC-Web frames, Connect JSON) written to files for h2load and wrk, the
// fixed reply the reference servers send, a test JPEG, and temporary model
// repositories for the image path (dynamic batching on, and off).
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import sharp from "sharp";
import {
  ClassifyImageRequestSchema,
  Decision,
  PredictBatchRequestSchema,
  PredictRequestSchema,
  PredictResponseSchema,
  type PredictRequest,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import { applications, VALID } from "../../test/support/applications.js";
import { writeImagenetModel } from "../../scripts/make-imagenet-model.js";
import { grpcFrame } from "../../test/support/grpc-frames.js";

export const API_KEY = "bench-key";
export const IMAGE_MODEL = "imagenet-bench";
export const LOAN_MODEL = "loan-approval";
export const BATCH_ROWS = 100;
export const JPEG_WIDTH = 640;
export const JPEG_HEIGHT = 480;

/** The request bodies, as files for h2load and wrk. */
export interface RequestFiles {
  dir: string;
  predict: PredictRequest;
  /** gRPC (and gRPC-Web: same framing) body of one Predict call. */
  predictFrameFile: string;
  /** The same frame in base64: a gRPC-Web text-mode body. */
  predictTextFile: string;
  predictJsonFile: string;
  batchFrameFile: string;
  classifyFrameFile: string;
  jpeg: Buffer;
}

export interface Fixtures extends RequestFiles {
  /** The floors' fixed PredictResponse, ready to send: a gRPC body, a gRPC-Web body (message and trailer frames) and Connect JSON. */
  replyGrpc: Buffer;
  replyGrpcWeb: Buffer;
  replyJson: Buffer;
  /** Model repositories: shipped models + the ImageNet-shaped model, batching on / off. */
  repoBatchingOn: string;
  repoBatchingOff: string;
}

/** A 640x480 photo-like JPEG: smooth gradients plus seeded noise, so it compresses like a real picture. */
export async function makeJpeg(width = JPEG_WIDTH, height = JPEG_HEIGHT): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  let state = 0x2545f491;
  const noise = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) % 41) - 20;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const cx = x - width / 2;
      const cy = y - height / 2;
      const ring = 127 + 100 * Math.sin(Math.sqrt(cx * cx + cy * cy) / 18);
      raw[i] = clamp((255 * x) / width + noise());
      raw[i + 1] = clamp(ring + noise());
      raw[i + 2] = clamp((255 * y) / height + noise());
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

/** The answer shape the real server gives for the sample application (values are representative). */
function fixedReply() {
  return create(PredictResponseSchema, {
    decision: Decision.APPROVED,
    probability: 0.9972,
    approvalProbability: 0.9972,
    modelName: "loan-approval",
    modelVersion: "1",
    timestamp: timestampFromDate(new Date()),
    factors: [
      { feature: "loan_purpose", contribution: 2.78, description: "loan purpose is lower risk" },
      { feature: "credit_score", contribution: 1.91, description: "credit score is high" },
      { feature: "debt_to_income", contribution: 1.2, description: "loan amount is low relative to income" },
    ],
  });
}

export async function writeRequestFiles(dir: string): Promise<RequestFiles> {
  mkdirSync(dir, { recursive: true });
  const predict = create(PredictRequestSchema, VALID);
  const predictFrameFile = join(dir, "predict.grpc.bin");
  writeFileSync(predictFrameFile, grpcFrame(toBinary(PredictRequestSchema, predict)));
  const predictTextFile = join(dir, "predict.grpc-web-text.txt");
  writeFileSync(predictTextFile, grpcFrame(toBinary(PredictRequestSchema, predict)).toString("base64"));
  const predictJsonFile = join(dir, "predict.json");
  writeFileSync(predictJsonFile, toJsonString(PredictRequestSchema, predict));
  const batchFrameFile = join(dir, "predict-batch-100.grpc.bin");
  writeFileSync(
    batchFrameFile,
    grpcFrame(
      toBinary(PredictBatchRequestSchema, create(PredictBatchRequestSchema, { inputs: applications(BATCH_ROWS).map((a) => create(PredictRequestSchema, a)) })),
    ),
  );

  const jpeg = await makeJpeg();
  writeFileSync(join(dir, "image-640x480.jpg"), jpeg);
  const classifyFrameFile = join(dir, "classify-image.grpc.bin");
  writeFileSync(
    classifyFrameFile,
    grpcFrame(
      toBinary(ClassifyImageRequestSchema, create(ClassifyImageRequestSchema, { image: jpeg, contentType: "image/jpeg", topK: 5, modelName: IMAGE_MODEL })),
    ),
  );
  return { dir, predict, predictFrameFile, predictTextFile, predictJsonFile, batchFrameFile, classifyFrameFile, jpeg };
}

export async function makeFixtures(dir: string, opts: { imageSeed: number }): Promise<Fixtures> {
  const requests = await writeRequestFiles(dir);
  const reply = fixedReply();
  const replyGrpc = grpcFrame(toBinary(PredictResponseSchema, reply));
  const replyGrpcWeb = Buffer.concat([replyGrpc, grpcFrame(Buffer.from("grpc-status:0\r\n"), { flags: 0x80 })]);
  const replyJson = Buffer.from(toJsonString(PredictResponseSchema, reply));

  const repoBatchingOn = join(dir, "repo-batching-on");
  const repoBatchingOff = join(dir, "repo-batching-off");
  for (const repo of [repoBatchingOn, repoBatchingOff]) {
    mkdirSync(repo, { recursive: true });
    cpSync(join("models", LOAN_MODEL), join(repo, LOAN_MODEL), { recursive: true });
    cpSync("models/shapes", join(repo, "shapes"), { recursive: true });
    // The real network's size (~300 M multiply-adds per image), so the model's share of an image's cost is realistic.
    writeImagenetModel(join(repo, IMAGE_MODEL), { seed: opts.imageSeed, architecture: "mobilenetv2" });
  }
  // ON: batches of at most 4 images: on one core a larger batch only costs
  // more per image (docs/design.md). The loan model keeps its shipped batching.
  // OFF: one row per run for every model; the Predict rounds measure the loan
  // model on this server too, where a run's fixed cost is most of a call's.
  setBatchSize(repoBatchingOn, IMAGE_MODEL, 4);
  for (const model of [IMAGE_MODEL, LOAN_MODEL]) setBatchSize(repoBatchingOff, model, 1);

  return {
    ...requests,
    replyGrpc,
    replyGrpcWeb,
    replyJson,
    repoBatchingOn,
    repoBatchingOff,
  };
}

function setBatchSize(repo: string, model: string, maxBatchSize: number): void {
  const path = join(repo, model, "config.json");
  const config = JSON.parse(readFileSync(path, "utf8"));
  config.batching = { ...config.batching, max_batch_size: maxBatchSize };
  writeFileSync(path, JSON.stringify(config, null, 2));
}

/** The batching settings a model of a repository will run with (for the report). */
export function batchingOf(repo: string, model: string): { max_batch_size: number; max_queue_delay_us?: number; max_queue_rows?: number } {
  return JSON.parse(readFileSync(join(repo, model, "config.json"), "utf8")).batching;
}
