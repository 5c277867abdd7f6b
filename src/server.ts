// Assembles the server: routes, interceptors, the one-port listener, and the
// model, which loads after the port is open so health can say NOT_SERVING.
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { file_grpc_health_v1_health, Health, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_prediction_v1_prediction_service, PredictBatchRequestSchema, PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import type { ServerConfig } from "./config.js";
import { createHealthService } from "./health/health-service.js";
import { HealthStatus } from "./health/health-status.js";
import { apiKeyInterceptor, callLogInterceptor, validationInterceptor } from "./interceptors.js";
import { LoanModel } from "./models/loan-model.js";
import { readModelConfig } from "./models/model-config.js";
import { locateLatest } from "./models/model-repository.js";
import { ModelSlot } from "./models/model-slot.js";
import { createReflectionServices } from "./reflection/reflection-service.js";
import { predictionService } from "./services/prediction-service.js";
import { withCors } from "./transport/cors.js";
import { fallbackHandler } from "./transport/fallback.js";
import { listen } from "./transport/listen.js";

export const LOAN_MODEL_NAME = "loan-approval";

export interface RunningServer {
  port: number;
  health: HealthStatus;
  loan: ModelSlot<LoanModel>;
  /** Settles when the first model load has finished, whether it worked or not. */
  modelsLoaded: Promise<void>;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const health = new HealthStatus([
    ["", Serving.NOT_SERVING],
    [PredictionService.typeName, Serving.NOT_SERVING],
  ]);
  const loan = new ModelSlot<LoanModel>(LOAN_MODEL_NAME);
  loan.onChange((state) => {
    const status = state === "ready" ? Serving.SERVING : Serving.NOT_SERVING;
    health.set(PredictionService.typeName, status);
    health.set("", status);
  });

  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(PredictionService, predictionService(loan));
      router.service(Health, createHealthService(health));
      createReflectionServices([
        file_prediction_v1_prediction_service,
        file_grpc_health_v1_health,
        file_grpc_reflection_v1_reflection,
        file_grpc_reflection_v1alpha_reflection,
      ])(router);
    },
    interceptors: [
      callLogInterceptor(logger),
      apiKeyInterceptor(config.apiKeys, new Set([PredictionService.typeName])),
      validationInterceptor(new Map([[`${PredictBatchRequestSchema.typeName}.inputs`, { maxItems: config.maxBatchInputs }]])),
    ],
    readMaxBytes: config.maxMessageBytes,
    shutdownSignal: shutdown.signal,
    fallback: fallbackHandler([PredictionService.typeName, Health.typeName, "grpc.reflection.v1.ServerReflection"]),
  });

  const listener = await listen({ port: config.port, host: config.host, handler: withCors(handler, config.corsOrigins), tls: config.tls });
  logger.info({ port: listener.port, host: config.host, tls: Boolean(config.tls) }, "listening (gRPC, gRPC-Web, Connect)");

  const modelsLoaded = loadLoanModel(config.modelRepository, loan, logger);
  return {
    port: listener.port,
    health,
    loan,
    modelsLoaded,
    async close() {
      health.shutdown();
      await listener.close();
      shutdown.abort();
      await loan.current()?.release();
    },
  };
}

async function loadLoanModel(repository: string, slot: ModelSlot<LoanModel>, logger: Logger): Promise<void> {
  const started = performance.now();
  let where = `${repository}/${LOAN_MODEL_NAME}`;
  try {
    const loc = await locateLatest(repository, LOAN_MODEL_NAME);
    where = `${loc.versionDir}/model.onnx`;
    const model = await LoanModel.load(await readModelConfig(loc.configPath), loc.versionDir, loc.version);
    slot.setReady(model);
    logger.info({ model: model.name, version: model.version, path: where, ms: Math.round(performance.now() - started) }, "model ready");
  } catch (e) {
    const reason = (e as Error).message;
    slot.setFailed(reason);
    logger.error({ model: LOAN_MODEL_NAME, path: where, reason }, "model failed to load; serving NOT_SERVING until it is fixed");
  }
}
