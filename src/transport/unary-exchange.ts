// The two ways a fast-path call reaches us, behind one interface so that the
// fast path's logic is written once:
// - a gRPC call on a bare HTTP/2 stream (no Node compat request/response,
//   which costs CPU on every call: docs/design.md, "The unary fast path");
// - a Connect or gRPC-Web (binary or text) unary call on a Node
//   request/response, HTTP/1.1 or HTTP/2.
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { sensitiveHeaders, type IncomingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import type { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { encodeJson } from "../codec/json-encoder.js";
import { encodeMessage } from "../codec/binary-encoder.js";
import type { HeaderLookup, Protocol } from "../policy/call-context.js";
import { clientCancelled } from "../policy/errors.js";
import { GRPC_WEB_CONTENT_TYPE, grpcWebErrorBody, grpcWebMessageBody, grpcWebRequestBytes, textLimit, type GrpcWebWire } from "./grpc-web-wire.js";
import { connectionOf, nodeHeader, type NodeHandler } from "./node-handler.js";
import { errorHeaders, refuseRequest, refuseStream } from "./refusal.js";

type NodeRequest = Parameters<NodeHandler>[0];
type NodeResponse = Parameters<NodeHandler>[1];

export type Wire = "grpc" | GrpcWebWire | "connect-json" | "connect-proto";

/** The protocol a wire belongs to, for logs and metrics: a text-mode call is gRPC-Web. */
export function protocolOfWire(wire: Wire): Protocol {
  if (wire === "grpc") return "grpc";
  return wire === "grpc-web" || wire === "grpc-web-text" ? "grpc-web" : "connect";
}

/** gRPC and gRPC-Web carry the message in a 5-byte-prefixed frame and the deadline in grpc-timeout. */
export function isGrpcFamily(wire: Wire): boolean {
  return wire !== "connect-json" && wire !== "connect-proto";
}

/** One unary call's request and response, whatever carries them. */
export interface Exchange {
  readonly wire: Wire;
  readonly header: HeaderLookup;
  /** The client connection (for the API key check). */
  readonly connection: object;
  /** The whole request body (a gRPC or gRPC-Web body still framed, text mode decoded), or RESOURCE_EXHAUSTED past `limit` bytes. */
  readBody(limit: number): Promise<Buffer>;
  /** Calls `cancel` if the client goes away before the answer is out; the returned function stops watching. */
  watchClose(cancel: () => void): () => void;
  /** False once the client is gone or the answer has started. */
  writable(): boolean;
  sendMessage(schema: DescMessage, message: Message, requestId: string, elapsedMs: number): void;
  sendError(error: ConnectError): void;
  /** Answers with `error` before the body is read, and drops the body (see refusal.ts). */
  refuse(error: ConnectError): void;
}

// Headers whose value is new on every call. HPACK would add each value to
// the connection's header table, evicting the entries that do repeat
// (content-type, ...), so they are sent as never-indexed literals
// (docs/design.md, "HTTP/2 windows, headers and trailers").
const PER_CALL_HEADERS = ["x-request-id", "x-response-time-ms"];

/** A gRPC call on a bare HTTP/2 stream. */
export function streamExchange(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Exchange {
  // A reset from the client must not become an uncaught 'error': 'close' tells us it left.
  stream.on("error", ignore);
  return {
    wire: "grpc",
    header: (name) => {
      const v = headers[name];
      return Array.isArray(v) ? v[0] : v;
    },
    connection: stream.session ?? stream,
    readBody: (limit) => readBody(stream, limit),
    watchClose: closeWatcher(stream),
    writable: () => !stream.destroyed && !stream.closed && !stream.headersSent,
    sendMessage(schema, message, requestId, elapsedMs) {
      const frame = messageFrame(schema, message);
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc+proto",
          "x-request-id": requestId,
          "x-response-time-ms": elapsedMs.toFixed(2),
          [sensitiveHeaders]: PER_CALL_HEADERS,
        },
        { waitForTrailers: true },
      );
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(frame);
    },
    sendError(error) {
      // Trailers-only: the status travels in the one HEADERS frame, which ends the stream.
      stream.respond(
        { ...errorHeaders(error, true), ":status": 200, "content-type": "application/grpc+proto", [sensitiveHeaders]: PER_CALL_HEADERS },
        { endStream: true },
      );
    },
    refuse: (error) => refuseStream(stream, headers["content-type"], error),
  };
}

/** A Connect (JSON or binary) or gRPC-Web (binary or text) unary call on a Node request/response. */
export function nodeExchange(req: NodeRequest, res: NodeResponse, wire: Exclude<Wire, "grpc">): Exchange {
  if (wire === "grpc-web" || wire === "grpc-web-text") return grpcWebExchange(req, res, wire);
  return {
    wire,
    header: nodeHeader(req),
    connection: connectionOf(req),
    readBody: (limit) => readBody(req, limit),
    watchClose: closeWatcher(res),
    writable: nodeWritable(res),
    sendMessage(schema, message, requestId, elapsedMs) {
      const head = { "x-request-id": requestId, "x-response-time-ms": elapsedMs.toFixed(2) };
      if (wire === "connect-json") {
        // Handed to Node as a string: over HTTP/1.1 it then leaves in the same
        // write(2) as the headers (a Buffer body is a second chunk of a writev).
        const json = encodeJson(schema, message);
        res.writeHead(200, { ...head, "content-type": "application/json", "content-length": String(Buffer.byteLength(json)) });
        res.end(json);
        return;
      }
      const body = encodeMessage(schema, message);
      res.writeHead(200, { ...head, "content-type": "application/proto", "content-length": String(body.length) });
      res.end(body);
    },
    sendError(error) {
      const head = errorHeaders(error, false);
      const body = errorToJsonBytes(error, {});
      res.writeHead(codeToHttpStatus(error.code), { ...head, "content-type": "application/json", "content-length": String(body.length) });
      res.end(body);
    },
    refuse: (error) => refuseRequest(req, res, error),
  };
}

/** A gRPC-Web unary call, binary or text (base64), on a Node request/response. */
function grpcWebExchange(req: NodeRequest, res: NodeResponse, wire: GrpcWebWire): Exchange {
  const contentType = GRPC_WEB_CONTENT_TYPE[wire];
  const send = (status: Record<string, string>, body: Buffer | string) => {
    res.writeHead(200, { ...status, "content-type": contentType, "content-length": String(Buffer.byteLength(body)) });
    res.end(body);
  };
  return {
    wire,
    header: nodeHeader(req),
    connection: connectionOf(req),
    async readBody(limit) {
      if (wire === "grpc-web") return readBody(req, limit);
      // The limit is on the message, as in binary mode, whatever its base64 takes.
      const text = await readBody(req, textLimit(limit)).catch((e: unknown) => {
        throw e instanceof ConnectError && e.code === Code.ResourceExhausted ? tooLarge(limit) : e;
      });
      const bytes = grpcWebRequestBytes(wire, text);
      if (bytes.length > limit) throw tooLarge(limit);
      return bytes;
    },
    watchClose: closeWatcher(res),
    writable: nodeWritable(res),
    sendMessage(schema, message, requestId, elapsedMs) {
      const frame = messageFrame(schema, message);
      send({ "x-request-id": requestId, "x-response-time-ms": elapsedMs.toFixed(2) }, grpcWebMessageBody(wire, frame));
    },
    sendError(error) {
      const head = errorHeaders(error, false);
      send(head, grpcWebErrorBody(wire, error));
    },
    refuse: (error) => refuseRequest(req, res, error),
  };
}

/** Exchange.writable for a Node response. */
function nodeWritable(res: NodeResponse): () => boolean {
  return () => {
    // Answering a destroyed HTTP/2 stream throws.
    const stream = (res as { stream?: ServerHttp2Stream }).stream;
    if (stream && (stream.destroyed || stream.closed)) return false;
    return !res.destroyed && !res.writableEnded && !res.headersSent;
  };
}

const ignore = () => {};

/** One uncompressed message frame (gRPC and gRPC-Web): the message is encoded after the 5-byte prefix, so there is no second copy. */
function messageFrame(schema: DescMessage, message: Message): Buffer {
  const frame = encodeMessage(schema, message, 5);
  frame[0] = 0;
  frame.writeUInt32BE(frame.length - 5, 1);
  return frame;
}

/** Exchange.watchClose for a stream or response: closed before its answer was all written means the client left. */
function closeWatcher(target: EventEmitter & { readonly writableFinished: boolean }): Exchange["watchClose"] {
  return (cancel) => {
    const onClose = () => {
      if (!target.writableFinished) cancel();
    };
    target.once("close", onClose);
    return () => target.off("close", onClose);
  };
}

const tooLarge = (limit: number) => new ConnectError(`message is larger than the limit of ${limit} bytes`, Code.ResourceExhausted);

/** The whole body, or RESOURCE_EXHAUSTED as soon as it passes the limit. */
function readBody(source: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        source.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      // A reset ends the body too: what came is then a fragment, not a request.
      if ((source as { aborted?: boolean }).aborted === true) reject(clientCancelled());
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new ConnectError(`reading the request failed - ${err.message}`, Code.Canceled));
    };
    // The client went away before sending the whole body.
    const onClose = () => {
      cleanup();
      reject(clientCancelled());
    };
    const cleanup = () => {
      source.off("data", onData);
      source.off("end", onEnd);
      source.off("error", onError);
      source.off("close", onClose);
    };
    source.on("data", onData);
    source.on("end", onEnd);
    source.on("error", onError);
    source.on("close", onClose);
  });
}
