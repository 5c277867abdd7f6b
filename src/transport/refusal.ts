// A call refused at its head (no valid key: see policy/admission.ts) is
// answered in its own protocol's shape, and its unread body is then dropped
// rather than kept: the client may still be uploading megabytes.
import type { ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { ServerResponse } from "node:http";
import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { envelope } from "./grpc-web-wire.js";
import type { NodeHandler } from "./node-handler.js";

interface Refusal {
  status: number;
  headers: Record<string, string>;
  body?: Uint8Array;
}

/**
 * The response headers that go with `error`: its metadata and, for a gRPC
 * trailers-only answer, its status (connect-es's setTrailerStatus copies the
 * metadata too).
 */
export function errorHeaders(error: ConnectError, grpcStatus: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  (grpcStatus ? setTrailerStatus(new Headers(), error) : error.metadata).forEach((v, k) => {
    headers[k] = v;
  });
  return headers;
}

/**
 * The answer that carries `error` in the protocol of a request with this
 * content type: gRPC and gRPC-Web trailers-only (the status in the headers;
 * with no body, the same answer serves gRPC-Web's text mode), Connect
 * streaming an end-stream message, Connect unary its JSON error body.
 */
export function refusalOf(contentType: string | undefined, error: ConnectError): Refusal {
  const ct = (contentType ?? "").toLowerCase();
  const grpc = ct.startsWith("application/grpc");
  const headers = errorHeaders(error, grpc);
  if (grpc) return { status: 200, headers: { ...headers, "content-type": ct } };
  if (ct.startsWith("application/connect+")) {
    const body = envelope(endStreamFlag, Buffer.from(JSON.stringify(endStreamToJson(error.metadata, error, undefined))));
    return { status: 200, headers: { ...headers, "content-type": ct }, body };
  }
  const body = errorToJsonBytes(error, {});
  return { status: codeToHttpStatus(error.code), headers: { ...headers, "content-type": "application/json" }, body };
}

/**
 * Answers a Node request with `error`, then drops its unread body: HTTP/2
 * resets the stream (NO_ERROR, as gRPC servers do after an early answer);
 * HTTP/1.1 sends the whole answer at once (its length given) but ends the
 * response, which closes the connection, only once the body has been read to
 * nowhere (up to DRAIN_LIMIT_BYTES) or DRAIN_LIMIT_MS have passed.
 */
export function refuseRequest(req: Parameters<NodeHandler>[0], res: Parameters<NodeHandler>[1], error: ConnectError): void {
  // On HTTP/2 the answer goes on the stream itself: only there can its one HEADERS frame end the stream (gRPC trailers-only).
  if ("stream" in req) {
    refuseStream(req.stream, req.headers["content-type"], error, res.getHeaders());
    return;
  }
  const { status, headers, body } = refusalOf(req.headers["content-type"], error);
  res.writeHead(status, { ...headers, "content-length": String(body?.length ?? 0), connection: "close" });
  if (body) res.write(body);
  else if (res instanceof ServerResponse) res.flushHeaders();
  // Drained, then closed: closing on unread bytes resets the connection, and a client still sending may lose the answer.
  const end = () => {
    clearTimeout(cut);
    if (!res.writableEnded) res.end();
  };
  const cut = setTimeout(() => {
    end();
    req.socket.destroy();
  }, DRAIN_LIMIT_MS).unref();
  req.once("end", end);
  req.socket.once("close", () => clearTimeout(cut));
  // Past the budget reading stops: TCP flow control then holds the client's
  // upload where it is, with the answer already in its hands.
  let drained = 0;
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) req.pause();
  });
}

/** How much of a refused HTTP/1.1 request's body is read to nowhere before reading stops. */
const DRAIN_LIMIT_BYTES = 1 << 20;

/** How long a refused HTTP/1.1 request's body is read to nowhere before its connection is closed anyway. */
const DRAIN_LIMIT_MS = 5_000;

/**
 * Answers a bare HTTP/2 stream with `error` (with `head`, headers already set
 * for it, e.g. CORS), then resets it (NO_ERROR) so its body is not sent.
 */
export function refuseStream(stream: ServerHttp2Stream, contentType: string | undefined, error: ConnectError, head: OutgoingHttpHeaders = {}): void {
  const { status, headers, body } = refusalOf(contentType, error);
  stream.respond({ ...head, ...headers, ":status": status }, { endStream: body === undefined });
  if (body) stream.end(body);
  // Sent after the answer: Node holds a NO_ERROR reset until the stream's writes are done.
  stream.close(constants.NGHTTP2_NO_ERROR);
}
