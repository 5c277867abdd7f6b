// gRPC-Web's text mode (application/grpc-web-text: the binary frames in
// base64) for the calls connect-node serves, which knows only the binary
// mode: the request is turned into binary before it, and its answer back into
// text after it, so server streaming (health Watch) and every other method
// work in text mode with no change to the router.
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { decodeBase64Stream, encodeBase64Stream } from "../codec/base64-text.js";

const TEXT = "application/grpc-web-text";
const BINARY = "application/grpc-web";

/** The same request in binary mode. */
export function textRequestToBinary(req: UniversalServerRequest): UniversalServerRequest {
  const header = new Headers(req.header);
  header.set("content-type", (header.get("content-type") ?? TEXT).toLowerCase().replace(TEXT, BINARY));
  header.delete("content-length");
  return { ...req, header, body: isByteStream(req.body) ? decodeBase64Stream(req.body) : req.body };
}

/** A binary-mode gRPC-Web answer in text mode; any other answer (e.g. HTTP 415) as it is. */
export function binaryResponseToText(res: UniversalServerResponse): UniversalServerResponse {
  const contentType = res.header?.get("content-type") ?? "";
  if (!contentType.startsWith(BINARY)) return res;
  const header = new Headers(res.header);
  header.set("content-type", contentType.replace(BINARY, TEXT));
  header.delete("content-length");
  return { ...res, header, body: res.body && encodeBase64Stream(res.body) };
}

function isByteStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}
