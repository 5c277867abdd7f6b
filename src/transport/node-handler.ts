// The one handler shape every layer here uses: connect-node's, which serves
// HTTP/1.1 and HTTP/2 requests alike.
import type { connectNodeAdapter } from "@connectrpc/connect-node";

export type NodeHandler = ReturnType<typeof connectNodeAdapter>;

/** The client connection a request came on: its HTTP/2 session, or its socket for HTTP/1.1. */
export function connectionOf(req: Parameters<NodeHandler>[0]): object {
  return ("stream" in req ? req.stream.session : undefined) ?? req.socket;
}

/** One request header by lower-case name (the first, if sent several times), for the call policy. */
export function nodeHeader(req: Parameters<NodeHandler>[0]): (name: string) => string | undefined {
  return (name) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
}
