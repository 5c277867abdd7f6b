// PredictionService handlers. Requests reach them already authenticated and
// validated by the interceptors; the handlers pick a model version, run the
// engine, and shape the answer.
import { setMaxListeners } from "node:events";
import { create } from "@bufbuild/protobuf";
import { timestampNow, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { InferOptions } from "../engine/served-version.js";
import {
  ClassifyImageResponseSchema,
  type ClassifyImageRequest,
  type ClassifyImageResponse,
  type GetModelMetadataRequest,
  type PredictBatchRequest,
  type PredictBatchResponse,
  type PredictImageRequest,
  Decision,
  PredictBatchResponseSchema,
  type PredictionService,
  PredictResponseSchema,
  type PredictRequest,
  type PredictResponse,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import { durationFromFractionalMs } from "../duration.js";
import { systemClock, type Clock } from "../engine/clock.js";
import type { ModelRepository } from "../engine/model-repository.js";
import { decodePredictions, encodeApplications, firstNonFinite, type LoanPrediction } from "../models/loan-task.js";
import { traceOf } from "../rpc/call-trace.js";
import type { CallContext } from "../rpc/handler-context.js";
import { classifyImage } from "./image-classifier.js";
import { predictImageStream, type ImageStreamDeps } from "./image-stream.js";
import { getModelMetadata, listModels } from "./model-metadata.js";

export interface PredictionServiceDeps {
  repository: ModelRepository;
  /** The repository model that answers Predict and PredictBatch. */
  loanModel: string;
  images: ImageStreamDeps;
  clock?: Clock;
}

export function predictionService(deps: PredictionServiceDeps) {
  const clock = deps.clock ?? systemClock;
  const deadlineOf = (ctx: CallContext) => {
    const timeoutMs = ctx.timeoutMs();
    return timeoutMs === undefined ? undefined : clock.now() + timeoutMs;
  };
  return {
    async predict(req: PredictRequest, ctx: CallContext): Promise<PredictResponse> {
      const [res] = await decide(deps, [req], req.modelVersion, { signal: ctx.signal, deadline: deadlineOf(ctx), trace: traceOf(ctx) });
      return res;
    },
    async predictBatch(req: PredictBatchRequest, ctx: CallContext): Promise<PredictBatchResponse> {
      const start = performance.now();
      const pinned = req.inputs.findIndex((r) => r.modelVersion !== "");
      if (pinned >= 0) {
        throw new ConnectError(`inputs[${pinned}].model_version must be empty in a batch - pin the batch with model_version`, Code.InvalidArgument);
      }
      const predictions = await decide(deps, req.inputs, req.modelVersion, { signal: ctx.signal, deadline: deadlineOf(ctx), trace: traceOf(ctx) });
      // Built as the message itself, as toResponse() does: create() would walk all of the rows again.
      return { $typeName: PredictBatchResponseSchema.typeName, predictions, processingTime: durationFromFractionalMs(performance.now() - start) };
    },
    predictImage: (requests: AsyncIterable<PredictImageRequest>, ctx: HandlerContext) => predictImageStream(deps.images, requests, ctx),
    async classifyImage(req: ClassifyImageRequest, ctx: CallContext): Promise<ClassifyImageResponse> {
      const classification = await classifyImage(
        deps.images,
        { bytes: req.image, contentType: req.contentType, topK: req.topK, modelName: req.modelName, modelVersion: req.modelVersion },
        { signal: ctx.signal, deadline: deadlineOf(ctx), trace: traceOf(ctx) },
      );
      return create(ClassifyImageResponseSchema, { classification });
    },
    listModels: async () => listModels(deps.repository, deps.images.limits),
    getModelMetadata: async (req: GetModelMetadataRequest) => getModelMetadata(deps.repository, req.name, deps.images.limits),
  } satisfies Partial<ServiceImpl<typeof PredictionService>>;
}

/**
 * Runs the applications through the loan model's batcher, in chunks of at
 * most its max_batch_size (each chunk may share an ORT run with other calls),
 * and answers in input order.
 */
async function decide(deps: PredictionServiceDeps, rows: readonly PredictRequest[], version: string, opts: InferOptions): Promise<PredictResponse[]> {
  const lease = acquireLoanModel(deps, version);
  try {
    const served = lease.served;
    const max = served.config.batching.max_batch_size;
    let results: LoanPrediction[];
    try {
      if (rows.length <= max) {
        // The common case (every Predict, most batches): one chunk, no fan-out.
        results = decodePredictions(served.config, await served.infer(encodeApplications(served.config, rows), opts));
      } else {
        const chunks: PredictRequest[][] = [];
        for (let i = 0; i < rows.length; i += max) chunks.push(rows.slice(i, i + max));
        // Each chunk in the batcher listens to the call's signal.
        // (An AbortSignal warns past 10 listeners; the fast path's cancellation has no limit.)
        if (opts.signal instanceof EventTarget && chunks.length > 8) setMaxListeners(chunks.length + 16, opts.signal);
        const outputs = await Promise.all(chunks.map((c) => served.infer(encodeApplications(served.config, c), opts)));
        results = outputs.flatMap((o) => decodePredictions(served.config, o));
      }
    } catch (e) {
      if (e instanceof ConnectError) throw e;
      throw new ConnectError("inference failed", Code.Internal, undefined, undefined, e);
    }
    // Our fault, not the caller's: INTERNAL, with the place logged under the call's request id.
    const nonFinite = firstNonFinite(results);
    if (nonFinite !== undefined) {
      throw new ConnectError(
        "inference failed",
        Code.Internal,
        undefined,
        undefined,
        new Error(`${served.name} v${served.version} gave a non-finite output (${nonFinite})`),
      );
    }
    const timestamp = timestampNow();
    return results.map((r) => toResponse(r, served.name, served.version, timestamp));
  } finally {
    lease.release();
  }
}

/** The loan model is part of this server's promise: its absence is UNAVAILABLE, not NOT_FOUND. */
function acquireLoanModel(deps: PredictionServiceDeps, version: string) {
  if (!deps.repository.get(deps.loanModel)) {
    throw new ConnectError(`model ${deps.loanModel} is not loaded - retry later`, Code.Unavailable);
  }
  return deps.repository.acquire(deps.loanModel, version);
}

/**
 * One answer, built as the message object itself: every field is set here (the
 * type requires them all), so protobuf-es's create(), which walks the schema
 * for each message, adds nothing; a PredictBatch of 100 rows builds 100 of these.
 */
function toResponse(r: LoanPrediction, modelName: string, modelVersion: string, timestamp: Timestamp): PredictResponse {
  const approved = r.approvalProbability >= 0.5;
  return {
    $typeName: PredictResponseSchema.typeName,
    decision: approved ? Decision.APPROVED : Decision.DENIED,
    probability: approved ? r.approvalProbability : 1 - r.approvalProbability,
    approvalProbability: r.approvalProbability,
    modelName,
    modelVersion,
    timestamp,
    factors: r.factors,
  };
}
