// Bundled for Chromium (test/grpc-web-browser.test.ts): calls the server with
// Google's grpc-web runtime, in text (its default) or binary mode, with no
// generated stubs: a MethodDescriptor whose (de)serializers are protobuf-es.
import { fromBinary, fromJson, toBinary, toJson, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import * as grpcWeb from "grpc-web";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { PredictionService } from "../../gen/prediction/v1/prediction_service_pb.js";

export interface BrowserOutcome {
  ok: boolean;
  messages: JsonValue[];
  code?: number;
  message?: string;
  requestId?: string;
}

export interface BrowserCall {
  baseUrl: string;
  format: "text" | "binary";
  /** e.g. "prediction.v1.PredictionService/Predict" */
  method: string;
  request: JsonValue;
  metadata: Record<string, string>;
  /** For a server stream: how many messages to take before cancelling. */
  take?: number;
}

const METHODS = new Map<string, DescMethod>([...PredictionService.methods, ...Health.methods].map((m) => [`${m.parent.typeName}/${m.name}`, m]));

function call(c: BrowserCall): Promise<BrowserOutcome> {
  const method = METHODS.get(c.method);
  if (!method) throw new Error(`unknown method ${c.method}`);
  const streaming = method.methodKind === "server_streaming";
  const descriptor = new grpcWeb.MethodDescriptor(
    `/${c.method}`,
    streaming ? grpcWeb.MethodType.SERVER_STREAMING : grpcWeb.MethodType.UNARY,
    Object,
    Object,
    (m: unknown) => toBinary(method.input, fromJson(method.input, m as JsonValue)),
    (bytes: Uint8Array) => toJson(method.output, fromBinary(method.output, bytes)),
  );
  const client = new grpcWeb.GrpcWebClientBase({ format: c.format });
  const url = `${c.baseUrl}/${c.method}`;
  return new Promise((resolve) => {
    const messages: JsonValue[] = [];
    let requestId: string | undefined;
    const fail = (e: grpcWeb.RpcError) =>
      resolve({ ok: false, messages, code: e.code, message: e.message, requestId: e.metadata?.["x-request-id"] ?? requestId });
    if (!streaming) {
      const s = client.rpcCall(url, c.request, c.metadata, descriptor, (err, res) =>
        err ? fail(err) : resolve({ ok: true, messages: [res as JsonValue], requestId }),
      );
      s.on("metadata", (m) => (requestId = m["x-request-id"]));
      return;
    }
    const s = client.serverStreaming(url, c.request, c.metadata, descriptor);
    s.on("data", (m) => {
      messages.push(m as JsonValue);
      if (messages.length >= (c.take ?? Infinity)) {
        s.cancel();
        resolve({ ok: true, messages });
      }
    });
    s.on("error", fail);
    s.on("end", () => resolve({ ok: true, messages }));
  });
}

Object.assign(globalThis, { grpcWebCall: call });
