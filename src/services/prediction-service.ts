// PredictionService handlers. Requests reach them already authenticated and
// validated by the interceptors, so the handlers only predict.
import { create } from "@bufbuild/protobuf";
import { timestampNow, type Timestamp } from "@bufbuild/protobuf/wkt";
import { durationFromFractionalMs } from "../duration.js";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  Decision,
  PredictBatchResponseSchema,
  PredictionService,
  PredictResponseSchema,
  type PredictRequest,
  type PredictResponse,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import type { LoanModel, LoanPrediction } from "../models/loan-model.js";
import type { ModelSlot } from "../models/model-slot.js";

export function predictionService(loan: ModelSlot<LoanModel>): Partial<ServiceImpl<typeof PredictionService>> {
  return {
    async predict(req, ctx) {
      const [res] = await decide(loan, [req], ctx);
      return res;
    },
    async predictBatch(req, ctx) {
      const start = performance.now();
      const predictions = await decide(loan, req.inputs, ctx);
      return create(PredictBatchResponseSchema, { predictions, processingTime: durationFromFractionalMs(performance.now() - start) });
    },
    // eslint-disable-next-line require-yield
    async *predictImage() {
      throw new ConnectError("PredictImage is not implemented yet", Code.Unimplemented);
    },
  };
}

/** One inference run for every application, answers in input order. */
async function decide(slot: ModelSlot<LoanModel>, rows: readonly PredictRequest[], ctx: HandlerContext): Promise<PredictResponse[]> {
  const model = slot.require();
  // Inference cannot be interrupted once started; skip it when nobody waits.
  if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason);
  let results: LoanPrediction[];
  try {
    results = await model.predict(rows);
  } catch (e) {
    throw new ConnectError("inference failed", Code.Internal, undefined, undefined, e);
  }
  const timestamp = timestampNow();
  return results.map((r) => toResponse(r, model, timestamp));
}

function toResponse(r: LoanPrediction, model: LoanModel, timestamp: Timestamp): PredictResponse {
  const approved = r.approvalProbability >= 0.5;
  return create(PredictResponseSchema, {
    decision: approved ? Decision.APPROVED : Decision.DENIED,
    probability: approved ? r.approvalProbability : 1 - r.approvalProbability,
    approvalProbability: r.approvalProbability,
    modelName: model.name,
    modelVersion: model.version,
    timestamp,
    factors: r.factors,
  });
}
