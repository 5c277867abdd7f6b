// The workloads: what is sent, with which generator, and how one real call
// proves the target answers it correctly (grpc-status 0 and a decodable,
// sensible reply) before and after each load run.
import { readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import {
  ClassifyImageResponseSchema,
  Decision,
  PredictBatchResponseSchema,
  PredictionService,
  PredictResponseSchema,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import { API_KEY, BATCH_ROWS, IMAGE_MODEL, type RequestFiles } from "./fixtures.js";
import { splitFrames } from "../../test/support/grpc-frames.js";
import { h2cSession, rawGrpc } from "../../test/support/raw-grpc.js";
import { httpPost, parseGrpcWeb } from "./grpc-wire.js";

export type WorkloadId = "predict-grpc" | "predict-connect-json" | "predict-grpc-web" | "predict-grpc-web-text" | "predict-batch-grpc" | "classify-image-grpc";

export interface Workload {
  id: WorkloadId;
  title: string;
  generator: "h2load" | "wrk";
  path: string;
  bodyFile: string;
  headers: string[];
  /** Rows (applications or images) per call. */
  rowsPerCall: number;
  /** Labels of rpc_server_calls_total for this workload on the real server. */
  metricsMethod: string;
  metricsProtocol: "grpc" | "grpc-web" | "connect";
  /** One real call; returns undefined when the answer is right, else what is wrong. */
  verify(port: number): Promise<string | undefined>;
}

const service = `/${PredictionService.typeName}`;
const PREDICT = `${service}/Predict`;
const BATCH = `${service}/PredictBatch`;
const CLASSIFY = `${service}/ClassifyImage`;
const GRPC_HEADERS = ["content-type: application/grpc", "te: trailers", `x-api-key: ${API_KEY}`];

function headerRecord(lines: string[]): Record<string, string> {
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
}

function grpcVerifier(path: string, bodyFile: string, headers: string[], check: (message: Buffer) => string | undefined) {
  const body = readFileSync(bodyFile);
  const { te: _te, "content-type": _ct, ...extra } = headerRecord(headers);
  return async (port: number): Promise<string | undefined> => {
    const session = h2cSession(`http://127.0.0.1:${port}`);
    const r = await rawGrpc(session, { path, frames: [body], headers: extra, timeoutMs: 30_000 }).finally(() => session.close());
    if (r.timedOut) return "call failed: no answer within 30 s";
    if (r.streamError) return `call failed: ${r.streamError.message}`;
    if (r.httpStatus !== 200) return `HTTP status ${r.httpStatus}`;
    if (r.grpcStatus !== 0) return `grpc-status ${r.grpcStatus ?? "missing"} ${r.grpcMessage ?? ""}`.trim();
    const messages = splitFrames(r.body);
    if (messages.length !== 1 || !messages[0]) return `${messages.length} response messages`;
    return check(messages[0].data);
  };
}

/** One gRPC-Web Predict call, binary or text (the answer is decoded from base64 when its content type says text). */
function grpcWebVerifier(bodyFile: string, headers: string[]) {
  return async (port: number): Promise<string | undefined> => {
    const r = await httpPost(port, PREDICT, readFileSync(bodyFile), headerRecord(headers));
    if (r.error) return `call failed: ${r.error}`;
    if (r.status !== 200) return `HTTP status ${r.status}`;
    const text = String(r.headers["content-type"] ?? "").startsWith("application/grpc-web-text");
    const web = parseGrpcWeb(text ? { ...r, body: Buffer.from(r.body.toString("latin1"), "base64") } : r);
    if (web.grpcStatus !== 0) return `grpc-status ${web.grpcStatus ?? "missing"} ${web.grpcMessage ?? ""}`.trim();
    if (web.messages.length !== 1) return `${web.messages.length} response messages`;
    return predictOk(web.messages[0]!);
  };
}

const predictOk = (m: Buffer): string | undefined => {
  const r = fromBinary(PredictResponseSchema, m);
  return r.decision === Decision.UNSPECIFIED || r.modelName === ""
    ? `unexpected PredictResponse ${JSON.stringify({ decision: r.decision, model: r.modelName })}`
    : undefined;
};

export function workloads(f: RequestFiles): Record<WorkloadId, Workload> {
  const webHeaders = ["content-type: application/grpc-web+proto", "x-grpc-web: 1", `x-api-key: ${API_KEY}`];
  // As Google's grpc-web runtime sends a call in its default mode.
  const textHeaders = ["content-type: application/grpc-web-text", "accept: application/grpc-web-text", "x-grpc-web: 1", `x-api-key: ${API_KEY}`];
  const jsonHeaders = ["content-type: application/json", `x-api-key: ${API_KEY}`];
  return {
    "predict-grpc": {
      id: "predict-grpc",
      title: "Predict, gRPC (h2c)",
      generator: "h2load",
      path: PREDICT,
      bodyFile: f.predictFrameFile,
      headers: GRPC_HEADERS,
      rowsPerCall: 1,
      metricsMethod: PREDICT,
      metricsProtocol: "grpc",
      verify: grpcVerifier(PREDICT, f.predictFrameFile, GRPC_HEADERS, predictOk),
    },
    "predict-connect-json": {
      id: "predict-connect-json",
      title: "Predict, Connect JSON (HTTP/1.1)",
      generator: "wrk",
      path: PREDICT,
      bodyFile: f.predictJsonFile,
      headers: jsonHeaders,
      rowsPerCall: 1,
      metricsMethod: PREDICT,
      metricsProtocol: "connect",
      async verify(port) {
        const r = await httpPost(port, PREDICT, readFileSync(f.predictJsonFile), headerRecord(jsonHeaders));
        if (r.error) return `call failed: ${r.error}`;
        if (r.status !== 200) return `HTTP status ${r.status}: ${r.body.toString("utf8").slice(0, 300)}`;
        try {
          const j = JSON.parse(r.body.toString("utf8"));
          return typeof j.decision === "string" && j.decision !== "DECISION_UNSPECIFIED"
            ? undefined
            : `unexpected JSON ${r.body.toString("utf8").slice(0, 200)}`;
        } catch {
          return `not JSON: ${r.body.toString("utf8").slice(0, 200)}`;
        }
      },
    },
    "predict-grpc-web": {
      id: "predict-grpc-web",
      title: "Predict, gRPC-Web binary (HTTP/1.1)",
      generator: "wrk",
      path: PREDICT,
      bodyFile: f.predictFrameFile,
      headers: webHeaders,
      rowsPerCall: 1,
      metricsMethod: PREDICT,
      metricsProtocol: "grpc-web",
      verify: grpcWebVerifier(f.predictFrameFile, webHeaders),
    },
    "predict-grpc-web-text": {
      id: "predict-grpc-web-text",
      title: "Predict, gRPC-Web text (HTTP/1.1)",
      generator: "wrk",
      path: PREDICT,
      bodyFile: f.predictTextFile,
      headers: textHeaders,
      rowsPerCall: 1,
      metricsMethod: PREDICT,
      metricsProtocol: "grpc-web",
      verify: grpcWebVerifier(f.predictTextFile, textHeaders),
    },
    "predict-batch-grpc": {
      id: "predict-batch-grpc",
      title: `PredictBatch(${BATCH_ROWS}), gRPC (h2c)`,
      generator: "h2load",
      path: BATCH,
      bodyFile: f.batchFrameFile,
      headers: GRPC_HEADERS,
      rowsPerCall: BATCH_ROWS,
      metricsMethod: BATCH,
      metricsProtocol: "grpc",
      verify: grpcVerifier(BATCH, f.batchFrameFile, GRPC_HEADERS, (m) => {
        const r = fromBinary(PredictBatchResponseSchema, m);
        if (r.predictions.length !== BATCH_ROWS) return `${r.predictions.length} predictions, want ${BATCH_ROWS}`;
        return r.predictions.every((p) => p.decision !== Decision.UNSPECIFIED) ? undefined : "a prediction has no decision";
      }),
    },
    "classify-image-grpc": {
      id: "classify-image-grpc",
      title: "ClassifyImage 640x480 JPEG → 224x224, gRPC (h2c)",
      generator: "h2load",
      path: CLASSIFY,
      bodyFile: f.classifyFrameFile,
      headers: GRPC_HEADERS,
      rowsPerCall: 1,
      metricsMethod: CLASSIFY,
      metricsProtocol: "grpc",
      verify: grpcVerifier(CLASSIFY, f.classifyFrameFile, GRPC_HEADERS, (m) => {
        const r = fromBinary(ClassifyImageResponseSchema, m);
        const c = r.classification;
        if (!c || c.labels.length === 0) return "no labels in the classification";
        return c.modelName === IMAGE_MODEL ? undefined : `answered by model ${c.modelName}, want ${IMAGE_MODEL}`;
      }),
    },
  };
}
