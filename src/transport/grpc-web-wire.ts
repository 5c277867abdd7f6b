// The gRPC-Web answer to a unary call on the fast path, in binary
// (application/grpc-web+proto) or text mode (application/grpc-web-text+proto,
// the same bytes in base64): a message frame, then a trailer frame that
// carries the status. An error is the trailer frame alone, as connect-node
// sends it, so every gRPC-Web client reads it from the body.
import type { ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { decodeBase64Text } from "../codec/base64-text.js";

export type GrpcWebWire = "grpc-web" | "grpc-web-text";

/** The gRPC-Web content types whose messages are protobuf binary, by wire. */
const WIRES = new Map<string, GrpcWebWire>([
  ["application/grpc-web", "grpc-web"],
  ["application/grpc-web+proto", "grpc-web"],
  ["application/grpc-web-text", "grpc-web-text"],
  ["application/grpc-web-text+proto", "grpc-web-text"],
]);

export const GRPC_WEB_CONTENT_TYPE: Record<GrpcWebWire, string> = {
  "grpc-web": "application/grpc-web+proto",
  "grpc-web-text": "application/grpc-web-text+proto",
};

/** The gRPC-Web wire of an uncompressed protobuf request; undefined for anything else (JSON, compressed). */
export function grpcWebWireOf(contentType: string | undefined, encoding: string | string[] | undefined): GrpcWebWire | undefined {
  if (encoding !== undefined && encoding !== "identity") return undefined;
  return WIRES.get(contentType ?? "");
}

/** True for a text-mode content type (application/grpc-web-text, with or without +proto). */
export function isGrpcWebText(contentType: string | undefined): boolean {
  return (contentType ?? "").toLowerCase().startsWith("application/grpc-web-text");
}

/** A text-mode body's bytes, or the body itself in binary mode (INVALID_ARGUMENT if not base64). */
export function grpcWebRequestBytes(wire: GrpcWebWire, body: Buffer): Buffer {
  return wire === "grpc-web-text" ? decodeBase64Text(body.toString("latin1")) : body;
}

/** The longest text-mode body for `limit` bytes of message, with room for pieces padded one by one. */
export function textLimit(limit: number): number {
  return Math.ceil(limit / 3) * 4 + 1024;
}

// The trailer frame of every successful call: built once.
const OK_TRAILER = trailerFrame(new Headers({ "grpc-status": "0" }));

/** A successful answer's body: `frame` (a message frame) and the OK trailer frame, base64 in text mode. */
export function grpcWebMessageBody(wire: GrpcWebWire, frame: Buffer): Buffer | string {
  const body = Buffer.concat([frame, OK_TRAILER], frame.length + OK_TRAILER.length);
  return wire === "grpc-web-text" ? body.toString("base64") : body;
}

/** An error's body: its trailer frame, base64 in text mode. */
export function grpcWebErrorBody(wire: GrpcWebWire, error: ConnectError): Buffer | string {
  const frame = trailerFrame(setTrailerStatus(new Headers(), error));
  return wire === "grpc-web-text" ? frame.toString("base64") : frame;
}

/** A gRPC-Web trailer frame holding `trailer`. */
export function trailerFrame(trailer: Headers, flags = trailerFlag): Buffer {
  return envelope(flags, trailerSerialize(trailer));
}

/** The 5-byte prefix (flags, big-endian length) the gRPC, gRPC-Web and Connect streaming protocols put before each frame's data. */
export function envelope(flags: number, data: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + data.length);
  frame[0] = flags;
  frame.writeUInt32BE(data.length, 1);
  frame.set(data, 5);
  return frame;
}
