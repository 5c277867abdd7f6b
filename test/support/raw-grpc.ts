// gRPC by hand over node:http2 (h2c), to send what no gRPC library would:
// garbage payloads, truncated frames, lying flags, slow bodies.
import * as http2 from "node:http2";
import { afterAll, beforeAll } from "vitest";
import type { TestServer } from "./test-server.js";

export { grpcFrame } from "./grpc-frames.js";

export interface RawGrpcResult {
  /** HTTP status of the response headers (0 if none arrived). */
  httpStatus: number;
  headers: http2.IncomingHttpHeaders;
  /** Trailers, or the headers of a trailers-only response. */
  trailers: http2.IncomingHttpHeaders;
  /** grpc-status from the trailers (or a trailers-only response), undefined if absent. */
  grpcStatus?: number;
  /** grpc-message, percent-decoded. */
  grpcMessage?: string;
  body: Buffer;
  /** RST_STREAM code (0 when the stream closed normally). */
  rstCode: number;
  streamError?: Error;
  /** True when no end of stream came within `timeoutMs` (the stream was then cancelled). */
  timedOut: boolean;
}

export interface RawGrpcCall {
  path: string;
  frames: Uint8Array[];
  headers?: Record<string, string>;
  /** Wait this long after the request headers before sending the frames. */
  bodyDelayMs?: number;
  /** Give up on an answer after this long: cancel the stream and report timedOut. */
  timeoutMs?: number;
}

/** One gRPC call on an existing h2c session; resolves when the stream closes, whatever happened. */
export function rawGrpc(session: http2.ClientHttp2Session, call: RawGrpcCall): Promise<RawGrpcResult> {
  return new Promise((resolve) => {
    const stream = session.request({
      ":method": "POST",
      ":path": call.path,
      "content-type": "application/grpc",
      te: "trailers",
      ...call.headers,
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let streamError: Error | undefined;
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer =
      call.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stream.close(http2.constants.NGHTTP2_CANCEL);
          }, call.timeoutMs);
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.on("error", (e) => (streamError = e));
    stream.on("close", () => {
      clearTimeout(timer);
      const source = trailers["grpc-status"] !== undefined ? trailers : headers;
      const status = source["grpc-status"];
      const message = source["grpc-message"];
      resolve({
        httpStatus: Number(headers[":status"] ?? 0),
        headers,
        trailers: source,
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: typeof message === "string" ? decodeURIComponent(message) : undefined,
        body: Buffer.concat(chunks),
        rstCode: timedOut ? 0 : (stream.rstCode ?? 0),
        streamError,
        timedOut,
      });
    });
    const send = () => {
      for (const f of call.frames) stream.write(f);
      stream.end();
    };
    if (call.bodyDelayMs) setTimeout(send, call.bodyDelayMs);
    else send();
  });
}

/** An h2c session whose errors surface on its streams, not as uncaught exceptions. */
export function h2cSession(baseUrl: string): http2.ClientHttp2Session {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  return session;
}

/**
 * A test server for the enclosing suite and one h2c session to it, started
 * before its tests and closed after them; read them after beforeAll.
 */
export function serverWithSession(start: () => Promise<TestServer>): { readonly server: TestServer; readonly session: http2.ClientHttp2Session } {
  let server: TestServer | undefined;
  let session: http2.ClientHttp2Session | undefined;
  beforeAll(async () => {
    server = await start();
    session = h2cSession(server.baseUrl);
  });
  afterAll(async () => {
    session?.close();
    await server?.close();
  });
  return {
    get server() {
      return server!;
    },
    get session() {
      return session!;
    },
  };
}
