// One image through the whole path: pick the model version, preprocess as its
// config says, run it through the engine's batcher, and keep the top labels.
// ClassifyImage and every image of a PredictImage stream use this.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ImageClassificationSchema, type ImageClassification } from "../../gen/prediction/v1/prediction_service_pb.js";
import type { ImageLimits } from "../config.js";
import { durationFromFractionalMs } from "../duration.js";
import type { ModelRepository } from "../engine/model-repository.js";
import type { InferOptions } from "../engine/served-version.js";
import type { Tensors } from "../engine/tensor-rows.js";
import { preprocessImage } from "../models/image-preprocess.js";
import { isRejected, topLabels } from "../models/image-labels.js";
import { traced } from "./traced.js";

export interface ImageRequest {
  bytes: Uint8Array;
  contentType: string;
  topK: number;
  modelName: string;
  modelVersion: string;
}

export interface ImageClassifierDeps {
  repository: ModelRepository;
  defaultModel: string;
  limits: ImageLimits;
}

const DEFAULT_TOP_K = 5;

export async function classifyImage(deps: ImageClassifierDeps, req: ImageRequest, opts: InferOptions): Promise<ImageClassification> {
  const lease = deps.repository.acquire(req.modelName || deps.defaultModel, req.modelVersion);
  try {
    const served = lease.served;
    const pre = served.config.preprocessing?.image;
    if (!pre) throw new ConnectError(`model ${served.name} is not an image model`, Code.FailedPrecondition);
    const t0 = performance.now();
    const tensor = await traced(opts.trace, "image decode and resize", () => preprocessImage(req.bytes, req.contentType, pre, deps.limits));
    const t1 = performance.now();
    const input = served.config.inputs[0];
    let outputs: Tensors;
    try {
      outputs = await served.infer({ [input.name]: { type: "float32", data: tensor.data, dims: tensor.dims } }, opts);
    } catch (e) {
      if (e instanceof ConnectError) throw e;
      throw new ConnectError("inference failed", Code.Internal, undefined, undefined, e);
    }
    const t2 = performance.now();
    const scores = outputs[served.config.outputs[0].name].data as Float32Array;
    const top = topLabels(scores, served.config.labels ?? [], req.topK || DEFAULT_TOP_K, pre.output === "logits");
    return create(ImageClassificationSchema, {
      labels: top,
      rejected: isRejected(top[0], served.config.reject),
      modelName: served.name,
      modelVersion: served.version,
      decodeTime: durationFromFractionalMs(t1 - t0),
      inferenceTime: durationFromFractionalMs(t2 - t1),
    });
  } finally {
    lease.release();
  }
}
