// The one handler shape every layer here uses: connect-node's, which serves
// HTTP/1.1 and HTTP/2 requests alike.
import type { connectNodeAdapter } from "@connectrpc/connect-node";

export type NodeHandler = ReturnType<typeof connectNodeAdapter>;
