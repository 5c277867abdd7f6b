// Serves a Connect router on Node requests, as connectNodeAdapter() does,
// with two additions between the router and the socket:
// - a request body that is not valid protobuf binary is the client's fault,
//   so it is answered INVALID_ARGUMENT (HTTP 400), not the INTERNAL that
//   connect-es uses for every binary parse failure;
// - a call refused before any interceptor ran (a body connect-node could not
//   read, decompress or parse) is reported through onRejected, so that it gets
//   its log line and metrics like every other call.
import { Code, ConnectError, createConnectRouter, createContextKey, createContextValues, type ConnectRouter, type ConnectRouterOptions, type ContextValues } from "@connectrpc/connect";
import { type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeFromString } from "@connectrpc/connect/protocol-connect";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import type { NodeHandler } from "./node-handler.js";

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
}

/** Set by the outermost interceptor when a call reaches it; calls that never do are reported to onRejected. */
export const callStartedKey = createContextKey<{ started: boolean } | undefined>(undefined, { description: "the call reached the interceptors" });

const PARSE_BINARY = "parse binary: ";

export function rpcHandler(options: RpcHandlerOptions): NodeHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0]);
    if (!handler) return options.fallback(req, res);
    const call = { started: false };
    const values = (options.contextValues?.(req) ?? createContextValues()).set(callStartedKey, call);
    const onRejected = options.onRejected;
    handler(universalRequestFromNodeRequest(req, res, undefined, values))
      .then(clientParseErrors)
      .then((uRes) => (call.started || !onRejected ? uRes : reportRejection(uRes, (error) => onRejected(handler.requestPath, req, error))))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason) => {
        if (reason instanceof URIError && answerUnencodable(req, res)) {
          if (!call.started) onRejected?.(handler.requestPath, req, new ConnectError(UNENCODABLE, Code.InvalidArgument));
          return;
        }
        if (ConnectError.from(reason).code !== Code.Aborted) options.onError?.(reason, handler.requestPath);
        // An answer that failed half-way must not leave the client waiting for the rest.
        if (!res.writableEnded) res.destroy();
      });
  };
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

/** The status a gRPC or gRPC-Web trailer carries: INTERNAL for a parse failure becomes INVALID_ARGUMENT. */
function rewriteParseError(trailer: Headers): void {
  const message = decodeURIComponent(trailer.get("grpc-message") ?? "");
  if (trailer.get("grpc-status") === String(Code.Internal) && message.startsWith(PARSE_BINARY)) {
    trailer.set("grpc-status", String(Code.InvalidArgument));
    trailer.set("grpc-message", encodeURIComponent(`malformed request message - ${message}`));
    trailer.delete("grpc-status-details-bin");
  }
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
    res.end(trailerFrame(unencodableStatus(), trailerFlag));
  } else {
    res.addTrailers(Object.fromEntries(unencodableStatus()));
    res.end();
  }
  return true;
}

/** A gRPC-Web trailer frame holding `trailer`. */
function trailerFrame(trailer: Headers, flags: number): Uint8Array {
  const data = trailerSerialize(trailer);
  const frame = Buffer.alloc(5 + data.length);
  frame[0] = flags;
  frame.writeUInt32BE(data.length, 1);
  frame.set(data, 5);
  return frame;
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
    const isTrailer = chunk.length >= 5 && (chunk[0]! & trailerFlag) === trailerFlag && Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).readUInt32BE(1) === chunk.length - 5;
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
    if (err?.code === "internal" && typeof err.message === "string" && err.message.startsWith(PARSE_BINARY)) {
      replaced = Buffer.from(JSON.stringify({ code: "invalid_argument", message: `malformed request body - ${err.message}` }));
    }
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
