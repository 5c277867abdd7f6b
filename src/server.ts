// Assembles the server: routes, interceptors, metrics, the inference engine
// and the one-port listener. A lone process opens its port first, so health
// can answer NOT_SERVING while the models load; one of several processes
// sharing the port (WORKERS > 1) joins once its models are loaded.
import cluster from "node:cluster";
import { setMaxListeners } from "node:events";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import type { Logger } from "pino";
import { file_grpc_health_v1_health, Health, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { file_prediction_v1_prediction_service, PredictBatchRequestSchema, PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import { SCOPABLE_METHODS, type ServerConfig } from "./config.js";
import { InferencePool } from "./engine/inference-pool.js";
import { ModelRepository } from "./engine/model-repository.js";
import { createHealthService } from "./health/health-service.js";
import { HealthStatus } from "./health/health-status.js";
import { httpProbes } from "./health/http-probes.js";
import { LIVENESS } from "./health/probe-services.js";
import { callLogInterceptor, connectAdmission, validationInterceptor } from "./interceptors.js";
import { clusterMetricsClient } from "./metrics/cluster-metrics.js";
import { metricsOnly } from "./metrics/metrics-endpoint.js";
import { ServerMetrics } from "./metrics/server-metrics.js";
import { createReflectionServices } from "./reflection/reflection-service.js";
import { connectionKey } from "./rpc/handler-context.js";
import { predictionService } from "./services/prediction-service.js";
import { StreamAdmission } from "./services/stream-admission.js";
import { clientSubject } from "./transport/client-certificate.js";
import { withCors } from "./transport/cors.js";
import { notFoundHandler } from "./transport/not-found.js";
import { listen } from "./transport/listen.js";
import { connectionOf, nodeHeader, type NodeHandler } from "./transport/node-handler.js";
import { rpcHandler } from "./transport/rpc-handler.js";
import { fastMethod, unaryFastPath } from "./transport/unary-fast-path.js";
import type { Tracing } from "./tracing/call-spans.js";
import { staticSite } from "./web/static-site.js";
import { protocolOf } from "./policy/call-context.js";
import { CallPolicy } from "./policy/call-policy.js";
import { KeyStore } from "./policy/key-store.js";
import { watchForChanges } from "./watch-file.js";

// The key file is also polled (where fs.watch is silent): a revoked key is refused within 5 s.
const KEY_FILE_POLL_MS = 1000;

export interface RunningServer {
  port: number;
  /** The port actually bound for `GET /metrics` (METRICS_PORT; 0 picks a free one). */
  metricsPort: number;
  health: HealthStatus;
  repository: ModelRepository;
  metrics: ServerMetrics;
  /** Settles when the first repository scan has finished, whether models loaded or not. */
  modelsLoaded: Promise<void>;
  /** Re-reads API_KEYS_FILE now, changed or not (SIGHUP). */
  reloadKeys(): void;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Load the models before taking connections (one of several processes on a shared port). */
  listenAfterLoad?: boolean;
  /** The built web page and API reference (default: dist/web next to the code). */
  webRoot?: string;
  /** Server spans for every call (tracing/); off when undefined. The caller shuts it down. */
  tracing?: Tracing;
}

export async function startServer(config: ServerConfig, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const health = new HealthStatus([
    ["", Serving.NOT_SERVING],
    [PredictionService.typeName, Serving.NOT_SERVING],
    [LIVENESS, Serving.SERVING],
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
  // The models the API needs (only these gate readiness); before the first scan none has a ready version.
  const needed = [config.loanModel, config.imageModel];
  metrics.setReadyVersions(new Map(needed.map((name) => [name, 0])));
  repository.onChange(() => {
    const ready = readyVersions(repository, needed);
    metrics.setReadyVersions(ready);
    const status = [...ready.values()].every((n) => n > 0) ? Serving.SERVING : Serving.NOT_SERVING;
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
  const protectedServices = [PredictionService.typeName];
  const keys = new KeyStore({ envKeys: config.apiKeys.env, file: config.apiKeys.file, services: protectedServices, methods: SCOPABLE_METHODS, logger });
  // Every PredictionService call series an alert or dashboard reads exists at zero, for each key name in force.
  const methodPaths = PredictionService.methods.map((m) => `/${PredictionService.typeName}/${m.name}`);
  const reloadKeys = (reason: string, force = false) => {
    keys.reload(reason, force);
    metrics.expectCalls(methodPaths, keys.names());
  };
  const stopWatchingKeys = keys.path === undefined ? () => {} : watchForChanges(keys.path, () => reloadKeys("file changed"), KEY_FILE_POLL_MS);
  // A change between reading the configuration and starting the watch would otherwise wait for the next one.
  reloadKeys("file changed");
  const policy = new CallPolicy({
    logger,
    sink: (c, code) => metrics.observeCall({ method: c.method, protocol: c.protocol, code, key: c.key ?? "", seconds: c.durationMs / 1000 }),
    apiKeys: keys.verifier,
    protectedServices,
    ruleOverrides: new Map([[`${PredictBatchRequestSchema.typeName}.inputs`, { maxItems: config.maxBatchInputs }]]),
    // Looked up only when clients must present a certificate: no cost per call otherwise.
    clientSubject: config.tls?.clientCa ? clientSubject : undefined,
    tracing: options.tracing,
  });
  // A whole image travels in one ClassifyImage message (base64 in JSON: 4/3 larger).
  const classifyMaxBytes = Math.max(config.maxMessageBytes, Math.ceil(config.images.maxBytes * 1.4) + 64 * 1024);
  const services = [PredictionService.typeName, Health.typeName, "grpc.reflection.v1.ServerReflection"];
  // The page, /docs and /openapi.json: open, GET/HEAD, and only paths no RPC has (so RPC calls never look here).
  const site = staticSite(options.webRoot);
  // GET /healthz and /readyz: open, for load balancers that cannot speak gRPC.
  const probes = httpProbes(health);
  const notFound = notFoundHandler(services);
  const siteThenFallback: NodeHandler = (req, res) => {
    if (!probes(req, res) && !site(req, res)) notFound(req, res);
  };
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
    // The key is checked once per call, by admit(), before the body is read: no interceptor checks it again.
    admit: connectAdmission(policy),
    interceptors: [callLogInterceptor(policy), validationInterceptor(policy)],
    readMaxBytes: config.maxMessageBytes,
    maxTimeoutMs: config.maxDeadlineMs,
    // A misspelled field would otherwise be dropped silently and scored as its default (often 0).
    jsonOptions: { ignoreUnknownFields: false },
    onError: (err, method) => logger.error({ err, method }, "handler failed after the response started"),
    // Refused before the interceptors (unreadable, undecompressable or unparseable body): still one log line and its metrics.
    onRejected: (path, req, error) => {
      const header = nodeHeader(req);
      policy.begin(path, protocolOf(header("content-type") ?? null), header, connectionOf(req)).finish(error);
    },
    contextValues: (req) => createContextValues().set(connectionKey, connectionOf(req)),
    shutdownSignal: shutdown.signal,
    fallback: siteThenFallback,
  });
  // The unary PredictionService calls skip connect-node's per-call machinery; same policy, same handlers.
  const unary = config.fastPath
    ? unaryFastPath({
        policy,
        maxMessageBytes: config.maxMessageBytes,
        maxDeadlineMs: config.maxDeadlineMs,
        fallthrough: rpc,
        methods: [
          fastMethod(PredictionService.method.predict, predictions.predict),
          fastMethod(PredictionService.method.predictBatch, predictions.predictBatch),
          fastMethod(PredictionService.method.classifyImage, predictions.classifyImage, { maxMessageBytes: classifyMaxBytes }),
        ],
      })
    : undefined;
  const handler: NodeHandler = unary?.handler ?? rpc;

  const load = () =>
    repository.start().then(() => {
      for (const model of [config.loanModel, config.imageModel]) {
        if (!repository.defaultVersion(model)) {
          logger.error(
            { model, path: `${config.modelRepository}/${model}` },
            "a model the API needs has no ready version: its calls answer UNAVAILABLE and readiness is NOT_SERVING until one loads",
          );
        }
      }
    });
  // Alone, the process opens the port first so health can say NOT_SERVING
  // while models load. As one of several processes sharing the port, it joins
  // only once loaded, so no call is routed to a process that cannot answer.
  const modelsLoaded = options.listenAfterLoad ? await load() : undefined;
  const listener = await listen({
    port: config.port,
    host: config.host,
    handler: withCors(handler, config.corsOrigins),
    streamHandler: unary?.stream,
    tls: config.tls,
    limits: config.limits,
  });
  metrics.gaugeFrom("rpc_server_calls_in_flight", "Calls begun and not yet finished (answered, failed or cancelled).", () => policy.inFlight);
  metrics.gaugeFrom("http_connections_open", "Client connections open now, any protocol.", () => listener.open().connections);
  metrics.gaugeFrom("http2_sessions_open", "HTTP/2 sessions open now.", () => listener.open().http2Sessions);
  // With WORKERS=n every process listens here too (node:cluster shares the port); any one answers for all (cluster-metrics.ts).
  const metricsListener = await listen({ port: config.metricsPort, host: config.host, handler: metricsOnly(metrics), limits: config.limits });
  logger.info(
    {
      port: listener.port,
      metricsPort: metricsListener.port,
      host: config.host,
      tls: Boolean(config.tls),
      clientCertificates: Boolean(config.tls?.clientCa),
      inferenceWorkers: config.inferenceWorkers,
      fastPath: config.fastPath,
      tracing: options.tracing !== undefined,
    },
    "listening (gRPC, gRPC-Web, Connect)",
  );
  const loaded = options.listenAfterLoad ? Promise.resolve(modelsLoaded) : load();
  return {
    port: listener.port,
    metricsPort: metricsListener.port,
    health,
    repository,
    metrics,
    modelsLoaded: loaded,
    reloadKeys: () => reloadKeys("SIGHUP", true),
    async close() {
      stopWatchingKeys();
      // Draining is not a fault of the process: liveness stays SERVING.
      health.shutdown([LIVENESS]);
      await listener.close();
      await metricsListener.close();
      shutdown.abort(new ConnectError("the server is shutting down - retry later", Code.Unavailable));
      await repository.stop();
      await pool.close();
    },
  };
}

/**
 * Ready versions of each model the API needs (the loan model and the default
 * image model): health is SERVING when each has one. Other models in the
 * repository do not count: a broken extra model shows as FAILED in
 * ListModels, the metrics and the log, but must not take every pod that
 * shares the repository out of service. A broken new version does not count
 * against a model while an older one serves.
 */
function readyVersions(repository: ModelRepository, needed: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of needed) {
    const versions = repository.get(name)?.versions.values() ?? [];
    counts.set(name, [...versions].filter((r) => r.state === "ready" && r.served).length);
  }
  return counts;
}
