// Serves a Connect router on Node requests, as connectNodeAdapter() does,
// with three additions between the router and the socket:
// - a request body that is not valid protobuf binary, or whose compression
//   is undeclared or cut short, is the client's fault, so it is answered
//   INVALID_ARGUMENT (HTTP 400), not the INTERNAL that connect-es uses for
//   these (client-faults.ts);
// - a call refused before any interceptor ran (a body connect-node could not
//   read, decompress or parse) is reported through onRejected, so that it gets
//   its log line and metrics like every other call;
// - a call is admitted (its key checked) on its headers before connect-node
//   reads any of its body, and a refused one is answered here (refusal.ts);
// - a deadline over `maxTimeoutMs` is clamped to it rather than refused
//   (deadline-cap.ts);
// - gRPC-Web's text mode, which connect-node lacks, is turned into binary
//   on the way in and back into text on the way out (grpc-web-text.ts);
// - a call answered before its body was all read leaves the request intact
//   (not aborted) and, on HTTP/1.1, drains the rest or closes the connection,
//   as connect-node 2.3 does and 2.1 (pinned for Node 20) does not.
import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
} from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { IncomingMessage, type ServerResponse } from "node:http";
import * as http2 from "node:http2";
import type { ServerHttp2Stream } from "node:http2";
import { clientCancelled } from "../policy/errors.js";
import { clientFaultMessage } from "../policy/client-faults.js";
import { clampDeadlineHeaders } from "./deadline-cap.js";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { binaryResponseToText, textRequestToBinary } from "./grpc-web-text.js";
import { isGrpcWebText, trailerFrame } from "./grpc-web-wire.js";
import type { NodeHandler } from "./node-handler.js";
import { refuseRequest } from "./refusal.js";
import { strictJsonRouter } from "./strict-json-router.js";

export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
  /** For requests that are not RPCs of the router. */
  fallback: NodeHandler;
  /** Told about handler failures that could not be sent to the client (e.g. the peer left). */
  onError?(reason: unknown, method: string): void;
  /** Per-request values for handlers, e.g. which connection a call came on. */
  contextValues?(req: Parameters<NodeHandler>[0]): ContextValues;
  /** A call answered with an error before any interceptor saw it (see callStartedKey). */
  onRejected?(path: string, req: Parameters<NodeHandler>[0], error: ConnectError): void;
  /**
   * Runs first for every call to a route (`procedure` is its path without the
   * query): undefined lets it in (it may add to the call's `values`), an
   * error refuses it.
   */
  admit?(procedure: string, req: Parameters<NodeHandler>[0], values: ContextValues): ConnectError | undefined;
}

/** How far a call got, shared between this handler and the interceptors. */
export interface CallProgress {
  /** Set by the outermost interceptor when the call reaches it; calls that never do are reported to onRejected. */
  started: boolean;
  /** True once the whole response (trailers included) is written; false if the client left before. */
  readonly written: Promise<boolean>;
}

export const callStartedKey = createContextKey<CallProgress | undefined>(undefined, { description: "the call reached the interceptors" });

export function rpcHandler(options: RpcHandlerOptions): NodeHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(strictJsonRouter(router, options.jsonOptions));
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  const maxTimeoutMs = options.maxTimeoutMs;
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0]);
    if (!handler) return options.fallback(req, res);
    const values = options.contextValues?.(req) ?? createContextValues();
    const refusal = options.admit?.(handler.requestPath, req, values);
    if (refusal) return refuseRequest(req, res, refusal);
    if (maxTimeoutMs !== undefined) clampDeadlineHeaders(req.headers, maxTimeoutMs);
    let written!: (whole: boolean) => void;
    const call: CallProgress = { started: false, written: new Promise((resolve) => (written = resolve)) };
    // Decided at 'close', which always comes: a client may reset the stream
    // after its half-close, even after our trailers were queued.
    res.once("close", () => written(res.writableFinished && !resetByClient(res)));
    values.set(callStartedKey, call);
    const onRejected = options.onRejected;
    const text = isGrpcWebText(req.headers["content-type"]);
    const uReq = keepRequestOnReturn(universalRequestFromNodeRequest(req, res, undefined, values), req);
    handler(text ? textRequestToBinary(uReq) : uReq)
      .then(clientParseErrors)
      .then((uRes) =>
        call.started || !onRejected
          ? uRes
          : reportRejection(uRes, (error) => onRejected(handler.requestPath, req, clientLeft(req, res) ? clientCancelled() : error)),
      )
      .then((uRes) => drainHttp1Request(uRes, req, res))
      .then((uRes) => universalResponseToNodeResponse(text ? binaryResponseToText(uRes) : uRes, res))
      .catch((reason) => {
        if (reason instanceof URIError && answerUnencodable(req, res)) {
          if (!call.started) onRejected?.(handler.requestPath, req, new ConnectError(UNENCODABLE, Code.InvalidArgument));
          return;
        }
        written(false);
        if (ConnectError.from(reason).code !== Code.Aborted) options.onError?.(reason, handler.requestPath);
        // An answer that failed half-way must not leave the client waiting for the rest.
        if (!res.writableEnded) res.destroy();
      });
  };
}

/**
 * The request body, read without destroying the request when the handler
 * stops early (a frame it cannot parse, a message over readMaxBytes).
 * connect-node 2.1 reads it with `for await`, which destroys it on return:
 * the request then counts as aborted, so the call was logged CANCELLED though
 * the client got INVALID_ARGUMENT, and the answer to an HTTP/1.1 client still
 * sending could stall. connect-node 2.3 reads it the same way as here.
 */
function keepRequestOnReturn(uReq: UniversalServerRequest, req: Parameters<NodeHandler>[0]): UniversalServerRequest {
  return { ...uReq, body: req.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array> };
}

/** How much of an unread HTTP/1.1 request body is read and dropped before the answer; past it the connection closes. */
const MAX_DRAIN_BYTES = 256 * 1024;
/** How long a closing HTTP/1.1 connection stays half-closed, so the client reads the answer before the reset. */
const CLOSE_DELAY_MS = 500;

/**
 * An HTTP/1.1 call answered before its body was all read (a message over
 * readMaxBytes, a frame it cannot parse): a client still sending waits on
 * the socket and never reads the answer. As connect-node 2.3 does (2.1 does
 * not), the rest of the body is read and dropped, up to MAX_DRAIN_BYTES; if
 * some is still left, the answer says `connection: close`, and the socket is
 * half-closed after it and closed CLOSE_DELAY_MS later. The answer's first
 * chunk is awaited first, as universalResponseToNodeResponse does, since a
 * handler may set headers until then. HTTP/2 needs none of this: the stream
 * ends on its own and the connection carries on.
 */
async function drainHttp1Request(
  uRes: UniversalServerResponse,
  req: Parameters<NodeHandler>[0],
  res: Parameters<NodeHandler>[1],
): Promise<UniversalServerResponse> {
  if ("stream" in res || !(req instanceof IncomingMessage) || req.complete) return uRes;
  const it = uRes.body?.[Symbol.asyncIterator]();
  const first = await it?.next();
  const h1 = res as ServerResponse;
  if (!req.complete && h1.shouldKeepAlive && uRes.header?.get("connection")?.toLowerCase() !== "close") {
    let drained = 0;
    let failed = false;
    try {
      for await (const chunk of req.iterator({ destroyOnReturn: false })) {
        drained += (chunk as Buffer).byteLength;
        if (drained > MAX_DRAIN_BYTES) break;
      }
    } catch {
      failed = true;
    }
    const socket = h1.socket;
    if (!req.complete && socket) {
      const header = new Headers(uRes.header);
      header.set("connection", "close");
      uRes = { ...uRes, header };
      if (!failed) socket.destroySoon = () => void socket.end(() => setTimeout(() => socket.destroy(), CLOSE_DELAY_MS).unref());
    }
  }
  if (!it || !first) return uRes;
  return { ...uRes, body: resumeWith(first, it) };
}

async function* resumeWith(first: IteratorResult<Uint8Array>, it: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  try {
    for (let r = first; r.done !== true; r = await it.next()) yield r.value;
  } finally {
    await it.return?.();
  }
}

/** The client reset the stream or dropped the connection: whatever its request then looked like, it cancelled. */
function clientLeft(req: Parameters<NodeHandler>[0], res: Parameters<NodeHandler>[1]): boolean {
  return req.aborted || resetByClient(res);
}

/** An HTTP/2 stream the client closed with RST_STREAM (any code but NO_ERROR). */
function resetByClient(res: Parameters<NodeHandler>[1]): boolean {
  const stream = (res as { stream?: ServerHttp2Stream }).stream;
  return stream !== undefined && stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR;
}

/** Rewrites a binary parse failure to INVALID_ARGUMENT: in a gRPC trailer, a gRPC-Web trailer frame, or a Connect unary error body. */
async function clientParseErrors(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (res.status === 500 && res.body && isJson(res.header)) return rewriteConnectError(res, res.body);
  if (res.trailer && res.body && isGrpc(res.header)) {
    const trailer = res.trailer;
    return { ...res, body: afterBody(res.body, () => rewriteParseError(trailer)) };
  }
  if (res.body && isGrpcWeb(res.header)) return { ...res, body: withGrpcWebTrailer(res.body, res.header, rewriteParseError) };
  return res;
}

const isJson = (h?: Headers) => (h?.get("content-type") ?? "").startsWith("application/json");
const isGrpc = (h?: Headers) => /^application\/grpc(\+|;|$)/.test(h?.get("content-type") ?? "");
const isGrpcWeb = (h?: Headers) => (h?.get("content-type") ?? "").startsWith("application/grpc-web");

/** The status a gRPC or gRPC-Web trailer carries: INTERNAL for a client's mistake becomes INVALID_ARGUMENT. */
function rewriteParseError(trailer: Headers): void {
  if (trailer.get("grpc-status") !== String(Code.Internal)) return;
  const message = clientFaultMessage(decodeURIComponent(trailer.get("grpc-message") ?? ""));
  if (message === undefined) return;
  trailer.set("grpc-status", String(Code.InvalidArgument));
  trailer.set("grpc-message", encodeURIComponent(message));
  trailer.delete("grpc-status-details-bin");
}

/** What the client is told when its error's message could not be sent (see answerUnencodable). */
const UNENCODABLE = "the request is invalid, and the error message quoting it is not well-formed UTF-16";
const unencodableStatus = () => new Headers({ "grpc-status": String(Code.InvalidArgument), "grpc-message": encodeURIComponent(UNENCODABLE) });

/**
 * connect-es percent-encodes grpc-message, which throws (URIError) on text
 * that is not well-formed UTF-16, and the call then fails with no answer.
 * Only text quoted from the request can be that (V8's JSON.parse error may
 * cut an emoji in two), so when nothing has gone out yet, the answer is a
 * whole gRPC or gRPC-Web one with INVALID_ARGUMENT and a plain message.
 * False if the call is neither, or its answer has begun.
 */
function answerUnencodable(req: Parameters<NodeHandler>[0], res: Parameters<NodeHandler>[1]): boolean {
  const contentType = req.headers["content-type"] ?? "";
  const header = new Headers({ "content-type": contentType });
  if (res.headersSent || !(isGrpcWeb(header) || isGrpc(header))) return false;
  res.writeHead(200, { "content-type": contentType });
  if (isGrpcWeb(header)) {
    const frame = trailerFrame(unencodableStatus(), trailerFlag);
    res.end(isGrpcWebText(contentType) ? frame.toString("base64") : frame);
  } else {
    res.addTrailers(Object.fromEntries(unencodableStatus()));
    res.end();
  }
  return true;
}

const COMPRESSED_FLAG = 0b1;

/** A compressed frame's payload, inflated with the response's grpc-encoding. */
function inflate(data: Uint8Array, encoding: string | null): Uint8Array {
  if (encoding === "gzip") return gunzipSync(data);
  if (encoding === "br") return brotliDecompressSync(data);
  return data;
}

/**
 * Passes a gRPC-Web body through, handing its trailer frame (connect-node
 * writes each frame as one chunk) to `visit`, which may change it. A trailer
 * connect-node compressed (it compresses any frame over 1 KiB, a long
 * grpc-message included) is read inflated and sent on uncompressed, which
 * gRPC-Web allows for any frame.
 */
async function* withGrpcWebTrailer(body: AsyncIterable<Uint8Array>, header: Headers | undefined, visit: (trailer: Headers) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    const isTrailer =
      chunk.length >= 5 &&
      (chunk[0]! & trailerFlag) === trailerFlag &&
      Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).readUInt32BE(1) === chunk.length - 5;
    if (!isTrailer) {
      yield chunk;
      continue;
    }
    const compressed = (chunk[0]! & COMPRESSED_FLAG) !== 0;
    const trailer = trailerParse(compressed ? inflate(chunk.subarray(5), header?.get("grpc-encoding") ?? null) : chunk.subarray(5));
    visit(trailer);
    yield trailerFrame(trailer, chunk[0]! & ~COMPRESSED_FLAG);
  }
}

/** A Connect unary error is one small JSON body, sent with its status: read it before the head goes out. */
async function rewriteConnectError(res: UniversalServerResponse, body: AsyncIterable<Uint8Array>): Promise<UniversalServerResponse> {
  const bytes = await readAll(body);
  let replaced: Uint8Array | undefined;
  try {
    const err = JSON.parse(bytes.toString("utf8"));
    const message = err?.code === "internal" && typeof err.message === "string" ? clientFaultMessage(err.message) : undefined;
    if (message !== undefined) replaced = Buffer.from(JSON.stringify({ code: "invalid_argument", message }));
  } catch {
    // Not an error body we know: pass it through untouched.
  }
  if (!replaced) return { ...res, body: once(bytes) };
  const header = new Headers(res.header);
  header.delete("content-length");
  return { ...res, status: 400, header, body: once(replaced) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/**
 * Finds the error in a response to a call no interceptor saw, and reports it:
 * a gRPC or gRPC-Web status in the headers (trailers-only), in the trailers
 * (once the body is done) or in gRPC-Web's trailer frame, or a Connect error
 * body.
 */
async function reportRejection(res: UniversalServerResponse, report: (error: ConnectError) => void): Promise<UniversalServerResponse> {
  const fromGrpc = (h: Headers) => {
    const status = h.get("grpc-status");
    if (status === null || status === "0") return false;
    report(new ConnectError(decodeURIComponent(h.get("grpc-message") ?? ""), Number(status) as Code));
    return true;
  };
  if (res.header && fromGrpc(res.header)) return res;
  if (res.trailer && res.body) {
    const trailer = res.trailer;
    return { ...res, body: afterBody(res.body, () => fromGrpc(trailer)) };
  }
  if (res.body && isGrpcWeb(res.header)) return { ...res, body: withGrpcWebTrailer(res.body, res.header, fromGrpc) };
  if (res.status !== 200 && res.body && isJson(res.header)) {
    const bytes = await readAll(res.body);
    let body: { code?: unknown; message?: unknown } = {};
    try {
      body = JSON.parse(bytes.toString("utf8"));
    } catch {
      // Not a Connect error body: the status still says what failed.
    }
    const code = (typeof body.code === "string" ? codeFromString(body.code) : undefined) ?? Code.Unknown;
    report(new ConnectError(typeof body.message === "string" ? body.message : `HTTP ${res.status}`, code));
    return { ...res, body: once(bytes) };
  }
  return res;
}

async function* afterBody(body: AsyncIterable<Uint8Array>, then: () => void): AsyncIterable<Uint8Array> {
  yield* body;
  then();
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}
