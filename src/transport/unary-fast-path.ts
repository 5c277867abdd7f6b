// A fast path for the unary PredictionService calls (Predict, PredictBatch,
// ClassifyImage) in their common encodings: gRPC over HTTP/2
// (`application/grpc`, uncompressed), taken on the bare HTTP/2 stream, and
// Connect unary (`application/json` or `application/proto`) and gRPC-Web
// (binary or text, protobuf), uncompressed, taken on the Node
// request/response. connect-node runs every call through
// async-iterable pipelines, an AbortController and several allocations per
// call, which dominated the CPU profile (docs/design.md, "The unary fast
// path"). Here a request is
// admitted on its key (before its body is read), read, decoded with
// protobuf-es and answered directly, running the very same CallPolicy
// (request id, key, field rules, log, metrics, error mapping) and
// the very same handler functions as the Connect path. Everything else falls
// through to connect-node untouched: streaming, compression, JSON over
// gRPC-Web, other methods and anything unusual.
import { fromJsonString, type DescMessage, type DescMethodUnary, type Message, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import type { IncomingHttpHeaders } from "node:http2";
import { CallCancellation } from "../cancellation.js";
import { decodeMessage } from "../codec/binary-decoder.js";
import { admit } from "../policy/admission.js";
import type { CallPolicy } from "../policy/call-policy.js";
import { findNonDecimalNumber } from "../codec/json-numbers.js";
import { clientCancelled, nonDecimalNumber } from "../policy/errors.js";
import { COMPRESSED_WITHOUT_ENCODING } from "../policy/client-faults.js";
import type { CallContext } from "../rpc/handler-context.js";
import type { StreamHandler } from "./listen.js";
import type { NodeHandler } from "./node-handler.js";
import { grpcWebWireOf } from "./grpc-web-wire.js";
import { isGrpcFamily, nodeExchange, protocolOfWire, streamExchange, type Exchange, type Wire } from "./unary-exchange.js";

type NodeRequest = Parameters<NodeHandler>[0];

export interface FastMethod<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  method: DescMethodUnary<I, O>;
  /** A method, so any FastMethod<I, O> is a FastMethod (parameters compare both ways): serve() decodes with this method's own input. */
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
  /** Longest deadline honoured; a longer one is clamped to it (deadline-cap.ts). */
  maxDeadlineMs: number;
}

export interface FastPath {
  /** For Node requests: Connect unary calls, the rest to `fallthrough`. */
  handler: NodeHandler;
  /** For bare HTTP/2 streams, before Node makes a request of them: gRPC unary calls. */
  stream: StreamHandler;
}

/** Declares a fast method with its types checked against the descriptor. */
export function fastMethod<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  impl: (req: MessageShape<I>, ctx: CallContext) => Promise<MessageShape<O>>,
  options: { maxMessageBytes?: number } = {},
): FastMethod {
  return { method, impl, maxMessageBytes: options.maxMessageBytes };
}

export function unaryFastPath(opts: FastPathOptions): FastPath {
  const routes = new Map(opts.methods.map((m) => [`/${m.method.parent.typeName}/${m.method.name}`, m]));
  // serve() answers every failure itself; the catch only keeps a write to a
  // peer that vanished mid-answer from becoming an unhandled rejection.
  return {
    handler(req, res) {
      const path = req.url ?? "";
      const route = req.method === "POST" ? routes.get(path) : undefined;
      const wire = route ? nodeWireOf(req) : undefined;
      if (!route || !wire) return opts.fallthrough(req, res);
      serve(opts, path, route, nodeExchange(req, res, wire)).catch(() => res.destroy());
    },
    stream(stream, headers) {
      const path = headers[":path"] ?? "";
      const route = headers[":method"] === "POST" ? routes.get(path) : undefined;
      if (!route || !isPlainGrpc(headers)) return false;
      serve(opts, path, route, streamExchange(stream, headers)).catch(() => stream.destroy());
      return true;
    },
  };
}

/**
 * Uncompressed gRPC. A call from a browser origin is left to the Node
 * handler, which adds the CORS headers (and hands gRPC to connect-node).
 */
function isPlainGrpc(h: IncomingHttpHeaders): boolean {
  const ct = h["content-type"];
  if (ct !== "application/grpc" && ct !== "application/grpc+proto") return false;
  const enc = h["grpc-encoding"];
  return (enc === undefined || enc === "identity") && h.origin === undefined;
}

/** The Connect and gRPC-Web unary encodings taken here; undefined sends the request to connect-node. */
function nodeWireOf(req: NodeRequest): Exclude<Wire, "grpc"> | undefined {
  const h = req.headers;
  const ct = h["content-type"];
  const grpcWeb = grpcWebWireOf(ct, h["grpc-encoding"]);
  if (grpcWeb) return grpcWeb;
  if (h["content-encoding"] !== undefined && h["content-encoding"] !== "identity") return undefined;
  const version = h["connect-protocol-version"];
  if (version !== undefined && version !== "1") return undefined;
  if (ct === "application/json" || ct === "application/json; charset=utf-8") return "connect-json";
  if (ct === "application/proto") return "connect-proto";
  return undefined;
}

async function serve(opts: FastPathOptions, path: string, route: FastMethod, ex: Exchange): Promise<void> {
  const { policy } = opts;
  const { wire, header } = ex;
  const protocol = protocolOfWire(wire);
  const admitted = admit(policy, path, protocol, header, ex.connection);
  if (admitted instanceof ConnectError) return ex.refuse(admitted);
  const call = policy.begin(path, protocol, header, ex.connection);
  if (admitted !== undefined) call.identify(admitted);
  const abort = new CallCancellation();
  // A client that goes away cancels the call (its queued inference is dropped).
  const unwatch = ex.watchClose(() => abort.abort(clientCancelled()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = isGrpcFamily(wire)
      ? parseGrpcTimeout(header("grpc-timeout") ?? null, Number.MAX_SAFE_INTEGER)
      : parseConnectTimeout(header("connect-timeout-ms") ?? null, Number.MAX_SAFE_INTEGER);
    if (timeout.error) throw timeout.error;
    const timeoutMs = timeout.timeoutMs === undefined ? undefined : Math.min(timeout.timeoutMs, opts.maxDeadlineMs);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    // Only a call with a deadline needs a race: it is answered when the
    // deadline passes, even mid-inference. A client that leaves is seen by
    // readBody and by the batcher (through the signal) without one.
    let expired: Promise<never> | undefined;
    if (timeoutMs !== undefined) {
      expired = new Promise<never>((_, reject) => {
        abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true });
        timer = setTimeout(() => abort.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), timeoutMs);
      });
      expired.catch(() => {});
    }
    const bodyRead = ex.readBody((route.maxMessageBytes ?? opts.maxMessageBytes) + (isGrpcFamily(wire) ? 5 : 0));
    const body = expired ? await Promise.race([bodyRead, expired]) : await bodyRead;
    const message = decode(route.method.input, wire, body);
    policy.validate(route.method.input, message);
    const ctx: CallContext = {
      signal: abort.signal,
      timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
      trace: call.trace,
    };
    const running = route.impl(message, ctx);
    const output = expired ? await Promise.race([running, expired]) : await running;
    call.finish();
    if (ex.writable()) ex.sendMessage(route.method.output, output, call.requestId, call.elapsedMs());
  } catch (e) {
    const error = call.finish(e) ?? ConnectError.from(e);
    if (ex.writable()) ex.sendError(error);
  } finally {
    clearTimeout(timer);
    unwatch();
  }
}

function decode(schema: DescMessage, wire: Wire, body: Buffer): Message {
  if (wire === "connect-json") {
    const text = body.toString("utf8");
    const nonDecimal = findNonDecimalNumber(schema, text);
    if (nonDecimal) throw nonDecimalNumber(nonDecimal);
    try {
      return fromJsonString(schema, text, { ignoreUnknownFields: false });
    } catch (e) {
      throw ConnectError.from(e, Code.InvalidArgument);
    }
  }
  let bytes: Uint8Array = body;
  if (isGrpcFamily(wire)) bytes = unframe(body);
  try {
    return decodeMessage(schema, bytes);
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
  // PROTOCOL-HTTP2.md: without grpc-encoding the flag must be 0. The client broke the protocol: not INTERNAL.
  if (flags & 0b1) throw new ConnectError(COMPRESSED_WITHOUT_ENCODING, Code.InvalidArgument);
  return body.subarray(5, 5 + length);
}
