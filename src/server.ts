// Assembles the server: routes, interceptors, metrics, the inference engine
// and the one-port listener. A lone process opens its port first, so health
// can answer NOT_SERVING while the models load; one of several processes
// sharing the port (WORKERS > 1) joins once its models are loaded.
import cluster from "node:cluster";
import { setMaxListeners } from "node:events";
import { createContextValues } from "@connectrpc/connect";
import type { Logger } from "pino";
import { file_grpc_health_v1_health, Health, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_prediction_v1_prediction_service, PredictBatchRequestSchema, PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import type { ServerConfig } from "./config.js";
import { InferencePool } from "./engine/inference-pool.js";
import { ModelRepository } from "./engine/model-repository.js";
import { createHealthService } from "./health/health-service.js";
import { HealthStatus } from "./health/health-status.js";
import { apiKeyInterceptor, callLogInterceptor, validationInterceptor } from "./interceptors.js";
import { clusterMetricsClient } from "./metrics/cluster-metrics.js";
import { metricsEndpoint, ServerMetrics } from "./metrics/server-metrics.js";
import { createReflectionServices } from "./reflection/reflection-service.js";
import { predictionService } from "./services/prediction-service.js";
import { connectionKey, StreamAdmission } from "./services/stream-admission.js";
import { withCors } from "./transport/cors.js";
import { fallbackHandler } from "./transport/fallback.js";
import { listen } from "./transport/listen.js";
import { connectionOf, nodeHeader, type NodeHandler } from "./transport/node-handler.js";
import { rpcHandler } from "./transport/rpc-handler.js";
import { fastMethod, unaryFastPath } from "./transport/unary-fast-path.js";
import { staticSite } from "./web/static-site.js";
import { protocolOf } from "./policy/call-context.js";
import { CallPolicy } from "./policy/call-policy.js";

export interface RunningServer {
  port: number;
  health: HealthStatus;
  repository: ModelRepository;
  metrics: ServerMetrics;
  /** Settles when the first repository scan has finished, whether models loaded or not. */
  modelsLoaded: Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Load the models before taking connections (one of several processes on a shared port). */
  listenAfterLoad?: boolean;
  /** The built web page and API reference (default: dist/web next to the code). */
  webRoot?: string;
}

export async function startServer(config: ServerConfig, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const health = new HealthStatus([
    ["", Serving.NOT_SERVING],
    [PredictionService.typeName, Serving.NOT_SERVING],
  ]);
  const metrics = new ServerMetrics();
  // One of WORKERS=n processes: a scrape that reaches it answers for all of them.
  if (cluster.isWorker) metrics.combineWith(clusterMetricsClient(metrics.registry));
  const pool = new InferencePool({ workers: config.inferenceWorkers });
  const repository = new ModelRepository({
    root: config.modelRepository,
    pool,
    workers: config.inferenceWorkers,
    logger,
    observer: metrics,
    pollIntervalMs: config.pollIntervalMs,
  });
  repository.onChange(() => {
    const status = servingStatus(repository, config.loanModel);
    health.set(PredictionService.typeName, status);
    health.set("", status);
  });

  const shutdown = new AbortController();
  // connect-node links every call in flight to this signal: one listener per call.
  setMaxListeners(0, shutdown.signal);
  const images = {
    repository,
    defaultModel: config.imageModel,
    limits: config.images,
    streams: new StreamAdmission(config.images.maxStreams, config.images.maxStreamsPerConnection),
  };
  metrics.gaugeFrom("image_streams_active", "PredictImage streams open now.", () => images.streams.active);
  const predictions = predictionService({ repository, loanModel: config.loanModel, images });
  const policy = new CallPolicy({
    logger,
    sink: (c, code) => metrics.observeCall({ method: c.method, protocol: c.protocol, code, seconds: c.durationMs / 1000 }),
    apiKeys: config.apiKeys,
    protectedServices: new Set([PredictionService.typeName]),
    ruleOverrides: new Map([[`${PredictBatchRequestSchema.typeName}.inputs`, { maxItems: config.maxBatchInputs }]]),
  });
  // A whole image travels in one ClassifyImage message (base64 in JSON: 4/3 larger).
  const classifyMaxBytes = Math.max(config.maxMessageBytes, Math.ceil(config.images.maxBytes * 1.4) + 64 * 1024);
  const services = [PredictionService.typeName, Health.typeName, "grpc.reflection.v1.ServerReflection"];
  const rpc = rpcHandler({
    routes(router) {
      router.service(PredictionService, predictions);
      router.rpc(PredictionService.method.classifyImage, predictions.classifyImage!, { readMaxBytes: classifyMaxBytes });
      router.service(Health, createHealthService(health));
      createReflectionServices([
        file_prediction_v1_prediction_service,
        file_grpc_health_v1_health,
        file_grpc_reflection_v1_reflection,
        file_grpc_reflection_v1alpha_reflection,
      ])(router);
    },
    interceptors: [callLogInterceptor(policy), apiKeyInterceptor(policy), validationInterceptor(policy)],
    readMaxBytes: config.maxMessageBytes,
    // A misspelled field would otherwise be dropped silently and scored as its default (often 0).
    jsonOptions: { ignoreUnknownFields: false },
    onError: (err, method) => logger.error({ err, method }, "handler failed after the response started"),
    // Refused before the interceptors (unreadable, undecompressable or unparseable body): still one log line and its metrics.
    onRejected: (path, req, error) => {
      const header = nodeHeader(req);
      policy.begin(path, protocolOf(header("content-type") ?? null), header).finish(error);
    },
    contextValues: (req) => createContextValues().set(connectionKey, connectionOf(req)),
    shutdownSignal: shutdown.signal,
    fallback: fallbackHandler(services),
  });
  // The unary PredictionService calls skip connect-node's per-call machinery; same policy, same handlers.
  const unary = config.fastPath
    ? unaryFastPath({
        policy,
        maxMessageBytes: config.maxMessageBytes,
        fallthrough: rpc,
        methods: [
          fastMethod(PredictionService.method.predict, predictions.predict),
          fastMethod(PredictionService.method.predictBatch, predictions.predictBatch),
          fastMethod(PredictionService.method.classifyImage, predictions.classifyImage, { maxMessageBytes: classifyMaxBytes }),
        ],
      })
    : undefined;
  const serveMetrics = metricsEndpoint(metrics);
  const calls = unary?.handler ?? rpc;
  // The page, /docs and /openapi.json: open, GET/HEAD, and only their own paths (never an RPC's).
  const site = staticSite(options.webRoot);
  const handler: NodeHandler = (req, res) => {
    if (!serveMetrics(req, res) && !site(req, res)) calls(req, res);
  };

  const load = () =>
    repository.start().then(() => {
      if (!repository.defaultVersion(config.loanModel)) {
        logger.error({ model: config.loanModel, path: `${config.modelRepository}/${config.loanModel}` }, "the loan model has no ready version: Predict answers UNAVAILABLE and health is NOT_SERVING until one loads");
      }
    });
  // Alone, the process opens the port first so health can say NOT_SERVING
  // while models load. As one of several processes sharing the port, it joins
  // only once loaded, so no call is routed to a process that cannot answer.
  const modelsLoaded = options.listenAfterLoad ? await load() : undefined;
  const listener = await listen({ port: config.port, host: config.host, handler: withCors(handler, config.corsOrigins), streamHandler: unary?.stream, tls: config.tls });
  logger.info({ port: listener.port, host: config.host, tls: Boolean(config.tls), inferenceWorkers: config.inferenceWorkers, fastPath: config.fastPath }, "listening (gRPC, gRPC-Web, Connect)");
  const loaded = options.listenAfterLoad ? Promise.resolve(modelsLoaded) : load();
  return {
    port: listener.port,
    health,
    repository,
    metrics,
    modelsLoaded: loaded,
    async close() {
      health.shutdown();
      await listener.close();
      shutdown.abort();
      await repository.stop();
      await pool.close();
    },
  };
}

/**
 * SERVING when the loan model and every other model in the repository has a
 * ready version (strict readiness: a pod that cannot answer some of its API
 * should not take traffic). A broken new version does not count against it
 * while an older one serves.
 */
function servingStatus(repository: ModelRepository, loanModel: string): Serving {
  const names = new Set([loanModel, ...repository.list().map((m) => m.name)]);
  for (const name of names) if (!repository.defaultVersion(name)) return Serving.NOT_SERVING;
  return Serving.SERVING;
}
