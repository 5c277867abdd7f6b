// Request problems that are the client's, which connect-es answers INTERNAL:
// here INTERNAL means a fault of the server (docs/errors.md), so these are
// INVALID_ARGUMENT, with the same wording on the fast path and through
// connect-node.

/** PROTOCOL-HTTP2.md: with no grpc-encoding (or Connect content encoding), a message's compressed flag must be 0. */
export const COMPRESSED_WITHOUT_ENCODING = "the compressed flag is set but the request declares no encoding";

/** connect-es's INTERNAL messages for client mistakes (by prefix), and what the client is told instead. */
const REWRITES: ReadonlyArray<[prefix: string, rewrite: (message: string) => string]> = [
  ["parse binary: ", (m) => `malformed request message - ${m}`],
  // connect-node: a zlib failure other than a corrupt stream (e.g. one cut short); the bytes are the client's.
  ["decompression failed", () => "the request message could not be decompressed - the compressed data is incomplete or corrupt"],
  ["received compressed envelope, but do not know how to decompress", () => COMPRESSED_WITHOUT_ENCODING],
];

/** The INVALID_ARGUMENT message for a connect-es INTERNAL `message` that is the client's fault; undefined for any other. */
export function clientFaultMessage(message: string): string | undefined {
  for (const [prefix, rewrite] of REWRITES) if (message.startsWith(prefix)) return rewrite(message);
  return undefined;
}
