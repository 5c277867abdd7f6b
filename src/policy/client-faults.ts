// The one adapter for connect-es's wording of a client's mistakes.
// connect-es (@connectrpc/connect and connect-node 2.1) reports a request it
// cannot parse or decompress as INTERNAL, where here INTERNAL means a fault of
// the server (docs/errors.md): these are INVALID_ARGUMENT, with the same
// wording on the fast path and through connect-node. connect-es's messages are
// matched by prefix; test/connect-es-client-fault-messages.test.ts fails when
// connect-es stops saying them.

/** PROTOCOL-HTTP2.md: with no grpc-encoding (or Connect content encoding), a message's compressed flag must be 0. */
export const COMPRESSED_WITHOUT_ENCODING = "the compressed flag is set but the request declares no encoding";

/** How connect-es's INTERNAL messages for a client's mistake begin. */
export const CONNECT_ES_FAULT_PREFIXES = {
  /** @connectrpc/connect's binary serialization: bytes protobuf-es cannot parse. */
  parseBinary: "parse binary: ",
  /** connect-node's zlib errors other than a corrupt stream (e.g. one cut short); the bytes are the client's. */
  decompressionFailed: "decompression failed",
  /** @connectrpc/connect's envelope reader: the compressed flag on a request that declares no encoding. */
  compressedWithoutEncoding: "received compressed envelope, but do not know how to decompress",
} as const;

/** Each prefix, and what the client is told instead. */
const REWRITES: ReadonlyArray<[prefix: string, rewrite: (message: string) => string]> = [
  [CONNECT_ES_FAULT_PREFIXES.parseBinary, (m) => `malformed request message - ${m}`],
  [CONNECT_ES_FAULT_PREFIXES.decompressionFailed, () => "the request message could not be decompressed - the compressed data is incomplete or corrupt"],
  [CONNECT_ES_FAULT_PREFIXES.compressedWithoutEncoding, () => COMPRESSED_WITHOUT_ENCODING],
];

/** The INVALID_ARGUMENT message for a connect-es INTERNAL `message` that is the client's fault; undefined for any other. */
export function clientFaultMessage(message: string): string | undefined {
  for (const [prefix, rewrite] of REWRITES) if (message.startsWith(prefix)) return rewrite(message);
  return undefined;
}
