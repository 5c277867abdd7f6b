// Serves a Connect router on Node requests, as connectNodeAdapter() does,
// with one correction between the router and the socket: a request body that
// is not valid protobuf binary is the client's fault, so it is answered
// INVALID_ARGUMENT (HTTP 400), not the INTERNAL that connect-es uses for every
// binary parse failure.
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions, type ContextValues } from "@connectrpc/connect";
import { type UniversalServerResponse } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { NodeHandler } from "./node-handler.js";

export interface RpcHandlerOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
  /** For requests that are not RPCs of the router. */
  fallback: NodeHandler;
  /** Told about handler failures that could not be sent to the client (e.g. the peer left). */
  onError?(reason: unknown, method: string): void;
  /** Per-request values for handlers, e.g. which connection a call came on. */
  contextValues?(req: Parameters<NodeHandler>[0]): ContextValues;
}

const PARSE_BINARY = "parse binary: ";

export function rpcHandler(options: RpcHandlerOptions): NodeHandler {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0]);
    if (!handler) return options.fallback(req, res);
    handler(universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req)))
      .then(clientParseErrors)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason) => {
        if (ConnectError.from(reason).code !== Code.Aborted) options.onError?.(reason, handler.requestPath);
      });
  };
}

/** Rewrites a binary parse failure to INVALID_ARGUMENT: as a gRPC trailer, or a Connect unary error body. */
async function clientParseErrors(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (res.status === 500 && res.body && isJson(res.header)) return rewriteConnectError(res, res.body);
  if (res.trailer && res.body && isGrpc(res.header)) return { ...res, body: rewriteGrpcTrailerAfter(res.body, res.trailer) };
  return res;
}

const isJson = (h?: Headers) => (h?.get("content-type") ?? "").startsWith("application/json");
const isGrpc = (h?: Headers) => /^application\/grpc(\+|;|$)/.test(h?.get("content-type") ?? "");

/** A Connect unary error is one small JSON body, sent with its status: read it before the head goes out. */
async function rewriteConnectError(res: UniversalServerResponse, body: AsyncIterable<Uint8Array>): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const c of body) chunks.push(c);
  const bytes = Buffer.concat(chunks);
  let replaced: Uint8Array | undefined;
  try {
    const err = JSON.parse(bytes.toString("utf8"));
    if (err?.code === "internal" && typeof err.message === "string" && err.message.startsWith(PARSE_BINARY)) {
      replaced = Buffer.from(JSON.stringify({ code: "invalid_argument", message: `malformed request body - ${err.message}` }));
    }
  } catch {
    // Not an error body we know: pass it through untouched.
  }
  if (!replaced) return { ...res, body: once(bytes) };
  const header = new Headers(res.header);
  header.delete("content-length");
  return { ...res, status: 400, header, body: once(replaced) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function* rewriteGrpcTrailerAfter(body: AsyncIterable<Uint8Array>, trailer: Headers): AsyncIterable<Uint8Array> {
  yield* body;
  // The trailer is final only once the body is done.
  const message = decodeURIComponent(trailer.get("grpc-message") ?? "");
  if (trailer.get("grpc-status") === String(Code.Internal) && message.startsWith(PARSE_BINARY)) {
    trailer.set("grpc-status", String(Code.InvalidArgument));
    trailer.set("grpc-message", encodeURIComponent(`malformed request message - ${message}`));
    trailer.delete("grpc-status-details-bin");
  }
}
