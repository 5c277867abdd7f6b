// The base64 of gRPC-Web's text mode (application/grpc-web-text). A client
// may encode its body in pieces, each padded on its own ("QQ==QUI="), so the
// text is read as a run of 4-character groups where padding may end any
// group, not only the last: Node's decoder alone would stop at the first "=".
import { Code, ConnectError } from "@connectrpc/connect";

// 4-character groups, any of them padded; a last group may be left unpadded.
const GROUPS = /^(?:[A-Za-z0-9+/]{2}(?:==|[A-Za-z0-9+/]=|[A-Za-z0-9+/]{2}))*(?:[A-Za-z0-9+/]{2,3})?$/;
const SPACE = /[\s]/;

export const MALFORMED_TEXT = "malformed grpc-web-text request - the body is not base64";

/** The bytes `text` encodes; INVALID_ARGUMENT if it is not base64 (line breaks and spaces are skipped). */
export function decodeBase64Text(text: string): Buffer {
  const s = SPACE.test(text) ? text.replace(/\s+/g, "") : text;
  if (!GROUPS.test(s)) throw new ConnectError(MALFORMED_TEXT, Code.InvalidArgument);
  let pad = s.indexOf("=");
  // The common case: one piece, padded (if at all) at its end.
  if (pad === -1 || pad >= s.length - 2) return Buffer.from(s, "base64");
  const parts: Buffer[] = [];
  let start = 0;
  while (pad !== -1) {
    const end = pad - (pad % 4) + 4;
    parts.push(Buffer.from(s.slice(start, end), "base64"));
    start = end;
    pad = s.indexOf("=", end);
  }
  if (start < s.length) parts.push(Buffer.from(s.slice(start), "base64"));
  return Buffer.concat(parts);
}

/** Decodes a base64 body as it arrives, whatever its chunks' boundaries; throws INVALID_ARGUMENT on a malformed body. */
export async function* decodeBase64Stream(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  let pending = "";
  for await (const chunk of body) {
    pending += Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1").replace(/\s+/g, "");
    const whole = pending.length - (pending.length % 4);
    if (whole === 0) continue;
    yield decodeBase64Text(pending.slice(0, whole));
    pending = pending.slice(whole);
  }
  if (pending.length > 0) yield decodeBase64Text(pending);
}

/** Encodes each chunk on its own (padded): a gRPC-Web text client decodes any run of whole groups. */
export async function* encodeBase64Stream(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  for await (const chunk of body) yield Buffer.from(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("base64"), "latin1");
}
