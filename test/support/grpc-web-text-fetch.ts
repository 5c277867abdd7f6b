// A fetch for connect-web's gRPC-Web transport that speaks text mode
// (application/grpc-web-text), as Google's grpc-web runtime does by default:
// the request body goes out in base64, in pieces padded one by one (as a
// client that encodes as it sends may do), and the answer, which must come
// back in text mode, is decoded group by group.

/** Base64 in pieces of at most `piece` bytes, each padded on its own. */
export function base64Pieces(bytes: Uint8Array, piece: number): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += piece) out += Buffer.from(bytes.subarray(i, i + piece)).toString("base64");
  return out;
}

/** Decodes 4-character groups one at a time: right for padding anywhere a group ends. */
export function decodeGroups(text: string): Buffer {
  return Buffer.concat((text.match(/.{1,4}/g) ?? []).map((g) => Buffer.from(g, "base64")));
}

export function grpcWebTextFetch(piece = 7): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set("content-type", "application/grpc-web-text");
    headers.set("accept", "application/grpc-web-text");
    const body = init?.body instanceof Uint8Array ? base64Pieces(init.body, piece) : init?.body;
    const res = await fetch(input, { ...init, headers, body });
    const contentType = res.headers.get("content-type") ?? "";
    if (!contentType.startsWith("application/grpc-web-text")) {
      throw new Error(`expected a grpc-web-text answer, got HTTP ${res.status} ${contentType}`);
    }
    const bytes = decodeGroups(await res.text());
    const binary = new Headers(res.headers);
    binary.set("content-type", contentType.replace("application/grpc-web-text", "application/grpc-web"));
    binary.delete("content-length");
    return new Response(bytes.length === 0 ? null : new Uint8Array(bytes), { status: res.status, statusText: res.statusText, headers: binary });
  };
}
