// Server configuration, read once from the environment. Every setting has a
// safe default so that `npm start` works with no configuration at all.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import { cpuBudget } from "./cpu-budget.js";
import { KeyFileError, parseKeyFile, type KeyEntry } from "./policy/key-file.js";
import type { KeyFileContents } from "./policy/key-store.js";
import { DEFAULT_LIMITS, type ConnectionLimits } from "./transport/connection-limits.js";
import { MAX_DEADLINE_CAP_MS } from "./transport/deadline-cap.js";

export interface ServerConfig {
  /** TCP port for every protocol (gRPC, gRPC-Web, Connect). */
  port: number;
  host: string;
  /** TCP port for `GET /metrics` alone, on the same host; never served on `port` (it names methods, models, versions and process details). */
  metricsPort: number;
  /** Accepted API keys: plaintext ones from API_KEYS (development), hashed ones from API_KEYS_FILE. Never logged, except a generated one, once. */
  apiKeys: { env: string[]; file?: KeyFileContents };
  /** True when no key was configured and one was generated at start. */
  apiKeyGenerated: boolean;
  /** Directory holding `<model>/config.json` and `<model>/<version>/model.onnx`. */
  modelRepository: string;
  /** How often the repository is checked for new, changed or removed versions; 0 = never. */
  pollIntervalMs: number;
  /** The repository model that answers Predict and PredictBatch. */
  loanModel: string;
  /** Server processes sharing the port (node:cluster); 1 = this process serves. */
  workers: number;
  /** Worker threads running inference in each server process (each holds every loaded session). */
  inferenceWorkers: number;
  /** The repository model that answers image requests that name none. */
  imageModel: string;
  images: ImageLimits;
  /** Most inputs accepted by one PredictBatch call. */
  maxBatchInputs: number;
  /** Largest request message accepted, in bytes. */
  maxMessageBytes: number;
  /** What one client connection may hold or send (connection-limits.ts). */
  limits: ConnectionLimits;
  /**
   * Longest call deadline honoured (grpc-timeout, connect-timeout-ms), in ms.
   * A longer one is clamped to this, as gRPC servers do: the call runs and
   * ends with DEADLINE_EXCEEDED when the cap passes, rather than being
   * refused for asking. A call that sends no deadline has none.
   */
  maxDeadlineMs: number;
  /** Serve uncompressed unary gRPC and Connect Predict/PredictBatch without connect-node's per-call machinery. */
  fastPath: boolean;
  /** Origins allowed to call from a browser (CORS); empty = same-origin only. */
  corsOrigins: string[];
  logLevel: string;
  /** "json" (the default): one JSON object per line, for log collectors. "pretty": coloured, human-readable lines for a terminal. */
  logFormat: LogFormat;
  /**
   * Send traces: OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) is set.
   * The OpenTelemetry SDK reads that and its other OTEL_* variables itself.
   */
  tracing: boolean;
  /** With clientCa (TLS_CLIENT_CA_FILE), clients must present a certificate it signed; its subject is logged with each call. */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
}

/** Limits on images, in PredictImage streams and ClassifyImage calls alike. */
export interface ImageLimits {
  /** Encoded bytes per image. */
  maxBytes: number;
  /** Decoded width x height per image: refuses decompression bombs before decoding. */
  maxPixels: number;
  maxImagesPerStream: number;
  maxStreamsPerConnection: number;
  maxStreams: number;
  /** A stream with no message and no image in flight for this long is ended. */
  streamIdleMs: number;
  /** A stream open this long is ended, however busy (DEADLINE_EXCEEDED): trickling bytes cannot hold it forever. */
  streamMaxMs: number;
  /** Images of one stream being decoded or classified at once (the rest wait: backpressure). */
  maxInFlightPerStream: number;
}

export class ConfigError extends Error {}

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The methods an API key may be scoped to: the protected service's, as named in the contract. */
export const SCOPABLE_METHODS: readonly string[] = PredictionService.methods.map((m) => m.name);

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): ServerConfig {
  const { apiKeys, generated } = loadApiKeys(env);
  // The CPUs this process may use: a container's CPU limit counts, not the node's cores.
  const cpus = cpuBudget();
  const workers = intSetting(env, "WORKERS", cpus, 1, 1024);
  return {
    port: intSetting(env, "PORT", 8080, 0, 65535),
    host: env.HOST ?? "0.0.0.0",
    metricsPort: intSetting(env, "METRICS_PORT", 9464, 0, 65535),
    apiKeys,
    apiKeyGenerated: generated,
    modelRepository: env.MODEL_REPOSITORY ?? "./models",
    pollIntervalMs: intSetting(env, "MODEL_POLL_INTERVAL_MS", 2000, 0, 3_600_000),
    loanModel: env.LOAN_MODEL ?? "loan-approval",
    workers,
    // Each process keeps a core's share for its event loop (I/O, decoding);
    // the rest of its share runs inference, at least one thread.
    inferenceWorkers: intSetting(env, "INFERENCE_WORKERS", Math.max(1, Math.floor(cpus / workers) - 1), 1, 256),
    imageModel: env.IMAGE_MODEL ?? "shapes",
    images: {
      maxBytes: intSetting(env, "MAX_IMAGE_BYTES", 10 * 1024 * 1024, 1024, 1024 ** 3),
      maxPixels: intSetting(env, "MAX_IMAGE_PIXELS", 40_000_000, 1, 1_000_000_000),
      maxImagesPerStream: intSetting(env, "MAX_IMAGES_PER_STREAM", 10_000, 1, 1e9),
      maxStreamsPerConnection: intSetting(env, "MAX_IMAGE_STREAMS_PER_CONNECTION", 16, 1, 1e6),
      maxStreams: intSetting(env, "MAX_IMAGE_STREAMS", 256, 1, 1e6),
      streamIdleMs: intSetting(env, "IMAGE_STREAM_IDLE_MS", 30_000, 10, 3_600_000),
      streamMaxMs: intSetting(env, "IMAGE_STREAM_MAX_MS", 600_000, 10, 86_400_000),
      maxInFlightPerStream: intSetting(env, "MAX_IMAGES_IN_FLIGHT_PER_STREAM", 8, 1, 1024),
    },
    maxBatchInputs: intSetting(env, "MAX_BATCH_INPUTS", 100, 1, 100_000),
    maxMessageBytes: intSetting(env, "MAX_MESSAGE_BYTES", 4 * 1024 * 1024, 1024, 1024 ** 3),
    limits: {
      // An HTTP/2 session with no open stream (PINGs do not count), or an
      // HTTP/1.1 keep-alive socket with no request, is closed after this long.
      idleTimeoutMs: intSetting(env, "IDLE_TIMEOUT_MS", DEFAULT_LIMITS.idleTimeoutMs, 10, 86_400_000),
      // Per HTTP/2 connection; a client may open more connections, each counted by the image stream limits too.
      maxConcurrentStreams: intSetting(env, "MAX_CONCURRENT_STREAMS", DEFAULT_LIMITS.maxConcurrentStreams, 1, 10_000),
      // An HTTP/1.1 request over it gets 431; an HTTP/2 stream is reset.
      maxHeaderBytes: intSetting(env, "MAX_HEADER_BYTES", DEFAULT_LIMITS.maxHeaderBytes, 1024, 1024 * 1024),
      // At least the pseudo-headers and the few gRPC needs.
      maxHeaders: intSetting(env, "MAX_HEADERS", DEFAULT_LIMITS.maxHeaders, 16, 10_000),
    },
    // The longest any call may run anyway: an image stream's lifetime.
    maxDeadlineMs: intSetting(env, "MAX_DEADLINE_MS", 600_000, 1, MAX_DEADLINE_CAP_MS),
    fastPath: boolSetting(env, "FAST_PATH", true),
    corsOrigins: listSetting(env.CORS_ORIGINS),
    logLevel: env.LOG_LEVEL ?? "info",
    logFormat: oneOfSetting(env, "LOG_FORMAT", LOG_FORMATS, "json"),
    tracing: Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
    tls: loadTls(env),
  };
}

function loadApiKeys(env: Env): { apiKeys: ServerConfig["apiKeys"]; generated: boolean } {
  const keys = listSetting(env.API_KEYS);
  if (env.API_KEYS_FILE) {
    const path = env.API_KEYS_FILE;
    const text = readFileOrThrow(path, "API_KEYS_FILE");
    let entries: KeyEntry[];
    try {
      entries = parseKeyFile(text, SCOPABLE_METHODS);
    } catch (e) {
      if (e instanceof KeyFileError) throw new ConfigError(`API_KEYS_FILE ${path}: ${e.message}`);
      throw e;
    }
    if (keys.length + entries.length === 0) throw new ConfigError(`API_KEYS_FILE ${path} holds no key`);
    return { apiKeys: { env: keys, file: { path, text, entries } }, generated: false };
  }
  if (keys.length > 0) return { apiKeys: { env: keys }, generated: false };
  // Never open by default: make a key the operator can read in the log once.
  return { apiKeys: { env: [randomBytes(24).toString("base64url")] }, generated: true };
}

function loadTls(env: Env): ServerConfig["tls"] {
  if (!env.TLS_CERT_FILE && !env.TLS_KEY_FILE) {
    if (env.TLS_CLIENT_CA_FILE) throw new ConfigError("TLS_CLIENT_CA_FILE needs TLS: set TLS_CERT_FILE and TLS_KEY_FILE too");
    return undefined;
  }
  if (!env.TLS_CERT_FILE || !env.TLS_KEY_FILE) {
    throw new ConfigError("TLS needs both TLS_CERT_FILE and TLS_KEY_FILE");
  }
  return {
    cert: Buffer.from(readFileOrThrow(env.TLS_CERT_FILE, "TLS_CERT_FILE")),
    key: Buffer.from(readFileOrThrow(env.TLS_KEY_FILE, "TLS_KEY_FILE")),
    clientCa: env.TLS_CLIENT_CA_FILE ? Buffer.from(readFileOrThrow(env.TLS_CLIENT_CA_FILE, "TLS_CLIENT_CA_FILE")) : undefined,
  };
}

function readFileOrThrow(path: string, setting: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${setting}: cannot read ${path}: ${(e as Error).message}`);
  }
}

function listSetting(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function boolSetting(env: Env, name: string, fallback: boolean): boolean {
  const raw = (env[name] ?? "").trim().toLowerCase();
  if (raw === "") return fallback;
  if (["1", "true", "on", "yes"].includes(raw)) return true;
  if (["0", "false", "off", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be on or off (1/0, true/false), got "${env[name]}"`);
}

function oneOfSetting<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = (env[name] ?? "").trim();
  if (raw === "") return fallback;
  const found = allowed.find((a) => a === raw.toLowerCase());
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${env[name]}"`);
  return found;
}

function intSetting(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return n;
}
