// Every kind of client the server promises to answer, behind one call shape,
// so each protocol test runs unchanged against all of them.
import { createClient, ConnectError, type Code, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createGrpcWebTransport as createFetchGrpcWebTransport } from "@connectrpc/connect-web";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { BadRequestSchema, RetryInfoSchema, type BadRequest, type RetryInfo } from "../../gen/google/rpc/error_details_pb.js";
import {
  PredictionService,
  type ClassifyImageRequestSchema,
  type ClassifyImageResponse,
  type PredictBatchRequestSchema,
  type PredictBatchResponse,
  type PredictRequestSchema,
  type PredictResponse,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import { grpcJsClient } from "./grpc-js-client.js";
import { grpcWebTextFetch } from "./grpc-web-text-fetch.js";
import { create } from "@bufbuild/protobuf";
import {
  ClassifyImageRequestSchema as ImageSchema,
  PredictBatchRequestSchema as BatchSchema,
  PredictRequestSchema as ReqSchema,
} from "../../gen/prediction/v1/prediction_service_pb.js";

export interface CallOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** A failed call, the same for every protocol. */
export interface CallError {
  code: Code;
  message: string;
  badRequest?: BadRequest;
  retryInfo?: RetryInfo;
  requestId?: string;
}

export type Outcome<T> = { ok: true; message: T; requestId?: string } | ({ ok: false } & CallError);

export interface ProtocolClient {
  name: string;
  predict(req: MessageInitShape<typeof PredictRequestSchema>, opts?: CallOptions): Promise<Outcome<PredictResponse>>;
  predictBatch(req: MessageInitShape<typeof PredictBatchRequestSchema>, opts?: CallOptions): Promise<Outcome<PredictBatchResponse>>;
  classifyImage(req: MessageInitShape<typeof ClassifyImageRequestSchema>, opts?: CallOptions): Promise<Outcome<ClassifyImageResponse>>;
  close(): void;
}

function connectClient(name: string, transport: Transport): ProtocolClient {
  const client = createClient(PredictionService, transport);
  async function run<T>(
    fn: (o: { headers?: Record<string, string>; timeoutMs?: number; onHeader: (h: Headers) => void; onTrailer: (h: Headers) => void }) => Promise<T>,
  ): Promise<Outcome<T>> {
    let requestId: string | undefined;
    const onHeader = (h: Headers) => (requestId ??= h.get("x-request-id") ?? undefined);
    try {
      const message = await fn({ onHeader, onTrailer: onHeader });
      return { ok: true, message, requestId };
    } catch (e) {
      const err = ConnectError.from(e);
      return {
        ok: false,
        code: err.code,
        message: err.rawMessage,
        badRequest: err.findDetails(BadRequestSchema)[0],
        retryInfo: err.findDetails(RetryInfoSchema)[0],
        requestId: requestId ?? err.metadata.get("x-request-id") ?? undefined,
      };
    }
  }
  return {
    name,
    predict: (req, opts = {}) => run((o) => client.predict(req, { ...opts, ...o })),
    predictBatch: (req, opts = {}) => run((o) => client.predictBatch(req, { ...opts, ...o })),
    classifyImage: (req, opts = {}) => run((o) => client.classifyImage(req, { ...opts, ...o })),
    close() {},
  };
}

function grpcJs(baseUrl: string): ProtocolClient {
  const c = grpcJsClient(new URL(baseUrl).host);
  async function run<T>(p: Promise<import("./grpc-js-client.js").GrpcJsResult<T>>): Promise<Outcome<T>> {
    const r = await p;
    const requestId = (r.header?.get("x-request-id")[0] ?? r.error?.metadata?.get("x-request-id")[0]) as string | undefined;
    if (r.error)
      return { ok: false, code: r.error.code as number as Code, message: r.error.details, badRequest: r.badRequest, retryInfo: r.retryInfo, requestId };
    return { ok: true, message: r.message as T, requestId };
  }
  const opts = (o: CallOptions = {}) => ({ metadata: o.headers, deadlineMs: o.timeoutMs });
  return {
    name: "grpc-js (gRPC, h2c)",
    predict: (req, o) => run(c.unary(PredictionService.method.predict, create(ReqSchema, req), opts(o))),
    predictBatch: (req, o) => run(c.unary(PredictionService.method.predictBatch, create(BatchSchema, req), opts(o))),
    classifyImage: (req, o) => run(c.unary(PredictionService.method.classifyImage, create(ImageSchema, req), opts(o))),
    close: () => c.close(),
  };
}

export interface ProtocolClientFactory {
  name: string;
  make(baseUrl: string): ProtocolClient;
}

const connectKind = (name: string, transport: (baseUrl: string) => Transport): ProtocolClientFactory => ({
  name,
  make: (baseUrl) => connectClient(name, transport(baseUrl)),
});

/** One client per protocol and HTTP version the server answers on its one port. */
export const PROTOCOL_CLIENTS: readonly ProtocolClientFactory[] = [
  { name: "grpc-js (gRPC, h2c)", make: grpcJs },
  connectKind("connect-node gRPC (h2c)", (baseUrl) => createGrpcTransport({ baseUrl })),
  connectKind("Connect JSON (HTTP/1.1)", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" })),
  connectKind("Connect binary (HTTP/1.1)", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true })),
  connectKind("Connect JSON (HTTP/2)", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" })),
  connectKind("gRPC-Web binary (HTTP/1.1)", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })),
  connectKind("gRPC-Web JSON (HTTP/1.1)", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false })),
  connectKind("gRPC-Web binary (HTTP/2)", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2" })),
  connectKind("gRPC-Web text (HTTP/1.1)", (baseUrl) => createFetchGrpcWebTransport({ baseUrl, useBinaryFormat: true, fetch: grpcWebTextFetch() })),
];
