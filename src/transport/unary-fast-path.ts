// A fast path for the unary PredictionService calls (Predict, PredictBatch,
// ClassifyImage) in their two common encodings: gRPC over HTTP/2
// (`application/grpc`, uncompressed) and Connect unary (`application/json` or
// `application/proto`, uncompressed). connect-node runs every call through
// async-iterable pipelines, an AbortController and several allocations per
// call, which dominated the CPU profile (see README, Design); for an 84 KB
// image it cost ~1.9 ms of CPU per call more than this path. Here a request is
// read, decoded with protobuf-es and answered directly on the Node
// request/response, running the very same CallPolicy (request id, key, field
// rules, log, metrics, error mapping) and the very same handler functions as
// the Connect path. Everything else falls through to connect-node untouched:
// streaming, compression, gRPC-Web, other methods and anything unusual.
import { fromBinary, fromJsonString, toBinary, toJsonString, type DescMessage, type DescMethodUnary, type Message, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { sensitiveHeaders, type Http2ServerResponse } from "node:http2";
import { CallCancellation } from "../cancellation.js";
import type { CallPolicy } from "../policy/call-policy.js";
import type { CallContext } from "../services/prediction-service.js";
import { connectionOf, nodeHeader, type NodeHandler } from "./node-handler.js";

type NodeRequest = Parameters<NodeHandler>[0];
type NodeResponse = Parameters<NodeHandler>[1];

export interface FastMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  method: DescMethodUnary<I, O>;
  impl(req: MessageShape<I>, ctx: CallContext): Promise<MessageShape<O>>;
  /** Largest request message for this method, when it differs from FastPathOptions.maxMessageBytes. */
  maxMessageBytes?: number;
}

export interface FastPathOptions {
  policy: CallPolicy;
  methods: FastMethod[];
  /** Everything the fast path does not take. */
  fallthrough: NodeHandler;
  /** Largest request message, as for the Connect path (a method may set its own). */
  maxMessageBytes: number;
}

/** Declares a fast method with its types checked against the descriptor. */
export function fastMethod<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  impl: (req: MessageShape<I>, ctx: CallContext) => Promise<MessageShape<O>>,
  options: { maxMessageBytes?: number } = {},
): FastMethod {
  return { method, impl, maxMessageBytes: options.maxMessageBytes } as unknown as FastMethod;
}

type Wire = "grpc" | "connect-json" | "connect-proto";

export function unaryFastPath(opts: FastPathOptions): NodeHandler {
  const routes = new Map(opts.methods.map((m) => [`/${m.method.parent.typeName}/${m.method.name}`, m]));
  return (req, res) => {
    const path = req.url ?? "";
    const route = req.method === "POST" ? routes.get(path) : undefined;
    const wire = route ? wireOf(req) : undefined;
    if (!route || !wire) return opts.fallthrough(req, res);
    // serve() answers every failure itself; this only keeps a write to a peer
    // that vanished mid-answer from becoming an unhandled rejection.
    serve(opts, path, route, wire, req, res).catch(() => res.destroy());
  };
}

/** The encodings taken here; undefined sends the request to connect-node. */
function wireOf(req: NodeRequest): Wire | undefined {
  const h = req.headers;
  const ct = h["content-type"];
  if (req.httpVersionMajor === 2 && (ct === "application/grpc" || ct === "application/grpc+proto")) {
    const enc = h["grpc-encoding"];
    return enc === undefined || enc === "identity" ? "grpc" : undefined;
  }
  if (h["content-encoding"] !== undefined && h["content-encoding"] !== "identity") return undefined;
  const version = h["connect-protocol-version"];
  if (version !== undefined && version !== "1") return undefined;
  if (ct === "application/json" || ct === "application/json; charset=utf-8") return "connect-json";
  if (ct === "application/proto") return "connect-proto";
  return undefined;
}

async function serve(opts: FastPathOptions, path: string, route: FastMethod, wire: Wire, req: NodeRequest, res: NodeResponse): Promise<void> {
  const { policy } = opts;
  const header = nodeHeader(req);
  const call = policy.begin(path, wire === "grpc" ? "grpc" : "connect", header);
  const abort = new CallCancellation();
  // A client that goes away cancels the call (its queued inference is dropped).
  const onClose = () => {
    if (!res.writableFinished) abort.abort(new ConnectError("the client cancelled the call", Code.Canceled));
  };
  res.once("close", onClose);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = wire === "grpc" ? parseGrpcTimeout(header("grpc-timeout") ?? null, Number.MAX_SAFE_INTEGER) : parseConnectTimeout(header("connect-timeout-ms") ?? null, Number.MAX_SAFE_INTEGER);
    if (timeout.error) throw timeout.error;
    const deadline = timeout.timeoutMs === undefined ? undefined : Date.now() + timeout.timeoutMs;
    // Only a call with a deadline needs a race: it is answered when the
    // deadline passes, even mid-inference. A client that leaves is seen by
    // readBody and by the batcher (through the signal) without one.
    let expired: Promise<never> | undefined;
    if (timeout.timeoutMs !== undefined) {
      expired = new Promise<never>((_, reject) => {
        abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true });
        timer = setTimeout(() => abort.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeout.timeoutMs);
      });
      expired.catch(() => {});
    }
    const bodyRead = readBody(req, (route.maxMessageBytes ?? opts.maxMessageBytes) + (wire === "grpc" ? 5 : 0));
    const body = expired ? await Promise.race([bodyRead, expired]) : await bodyRead;
    const message = decode(route.method.input, wire, body);
    policy.authorize(route.method.parent.typeName, header, connectionOf(req));
    policy.validate(route.method.input, message);
    const ctx: CallContext = {
      signal: abort.signal,
      timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
    };
    const running = route.impl(message as never, ctx);
    const output = expired ? await Promise.race([running, expired]) : await running;
    call.finish();
    if (writable(res)) sendMessage(res, wire, route.method.output, output, call.requestId, call.elapsedMs());
  } catch (e) {
    const error = call.finish(e) ?? ConnectError.from(e);
    if (writable(res)) sendError(res, wire, error);
  } finally {
    clearTimeout(timer);
    res.off("close", onClose);
  }
}

/** The whole body, or RESOURCE_EXHAUSTED as soon as it passes the limit. */
function readBody(req: NodeRequest, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(new ConnectError(`message is larger than the limit of ${limit} bytes`, Code.ResourceExhausted));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new ConnectError(`reading the request failed - ${err.message}`, Code.Canceled));
    };
    // The client went away before sending the whole body.
    const onClose = () => {
      cleanup();
      reject(new ConnectError("the client cancelled the call", Code.Canceled));
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function decode(schema: DescMessage, wire: Wire, body: Buffer): Message {
  if (wire === "connect-json") {
    try {
      return fromJsonString(schema, body.toString("utf8"), { ignoreUnknownFields: false });
    } catch (e) {
      throw ConnectError.from(e, Code.InvalidArgument);
    }
  }
  let bytes: Uint8Array = body;
  if (wire === "grpc") bytes = unframe(body);
  try {
    return fromBinary(schema, bytes);
  } catch (e) {
    throw new ConnectError(`malformed request message - parse binary: ${(e as Error).message}`, Code.InvalidArgument);
  }
}

/** The one message of a unary gRPC request, with the errors connect-node gives for the same bytes. */
function unframe(body: Buffer): Uint8Array {
  if (body.length === 0) throw new ConnectError("unary request has no message", Code.Unimplemented);
  if (body.length < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const flags = body[0];
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if (body.length > 5 + length) throw new ConnectError("unary request has more than one message", Code.Unimplemented);
  if (flags & 0b1) throw new ConnectError("received compressed message without grpc-encoding", Code.Internal);
  return body.subarray(5, 5 + length);
}

// Headers whose value is new on every call. HPACK would add each value to
// the connection's header table, evicting the entries that do repeat
// (content-type, ...), so they are sent as never-indexed literals; in paired
// runs of bare HTTP/2 servers, two such headers cost 18-24% more CPU per call
// when indexed and 6-8% less when not.
const PER_CALL_HEADERS = ["x-request-id", "x-response-time-ms"];

function sendMessage(res: NodeResponse, wire: Wire, schema: DescMessage, message: Message, requestId: string, elapsedMs: number): void {
  const headers: Record<string, string> = { "x-request-id": requestId, "x-response-time-ms": elapsedMs.toFixed(2) };
  if (wire === "grpc") {
    const payload = toBinary(schema, message);
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = 0;
    frame.writeUInt32BE(payload.length, 1);
    frame.set(payload, 5);
    // The head goes straight to the HTTP/2 stream: the compat writeHead()
    // would re-validate each header, add a date header gRPC has no use for,
    // and drop the never-index marking. The compat response still sends the
    // trailers (when the stream asks for them) and ends the stream.
    const http2Res = res as Http2ServerResponse;
    http2Res.stream.respond({ ":status": 200, "content-type": "application/grpc+proto", ...headers, [sensitiveHeaders]: PER_CALL_HEADERS }, { waitForTrailers: true });
    http2Res.addTrailers({ "grpc-status": "0" });
    http2Res.end(frame);
    return;
  }
  if (wire === "connect-json") {
    // Handed to Node as a string: over HTTP/1.1 it then leaves in the same
    // write(2) as the headers (a Buffer body is a second chunk of a writev).
    const json = toJsonString(schema, message);
    res.writeHead(200, { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) });
    res.end(json);
    return;
  }
  const body = toBinary(schema, message);
  res.writeHead(200, { ...headers, "content-type": "application/proto", "content-length": String(body.length) });
  res.end(body);
}

/** False once the client is gone: answering a destroyed HTTP/2 stream throws. */
function writable(res: NodeResponse): boolean {
  const stream = (res as Partial<Http2ServerResponse>).stream;
  if (stream && (stream.destroyed || stream.closed)) return false;
  return !res.destroyed && !res.writableEnded;
}

function sendError(res: NodeResponse, wire: Wire, error: ConnectError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const metadata: Record<string, string> = {};
  error.metadata.forEach((v, k) => (metadata[k] = v));
  if (wire === "grpc") {
    // Trailers-only: the status travels in the one HEADERS frame, which must
    // itself end the stream (the compat res.end() would add an empty DATA frame).
    const trailer: Record<string, string> = {};
    setTrailerStatus(new Headers(), error).forEach((v, k) => (trailer[k] = v));
    (res as Http2ServerResponse).stream.respond({ ":status": 200, ...metadata, ...trailer, "content-type": "application/grpc+proto", [sensitiveHeaders]: PER_CALL_HEADERS }, { endStream: true });
    return;
  }
  const body = errorToJsonBytes(error, {});
  res.writeHead(codeToHttpStatus(error.code), { ...metadata, "content-type": "application/json", "content-length": String(body.length) });
  res.end(body);
}
