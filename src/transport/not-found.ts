// What a plain HTTP request gets when no RPC, probe or page answers it: a
// short JSON pointer at GET / (no web page built), and a JSON 404 elsewhere,
// never an HTML error page.
import type { NodeHandler } from "./node-handler.js";

export function notFoundHandler(services: readonly string[]): NodeHandler {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/") {
      return sendJson(res, 200, {
        name: "prediction-server",
        services,
        usage: "POST /<service>/<method> with Content-Type application/json (Connect), or call over gRPC / gRPC-Web; list services with server reflection",
      });
    }
    // Connect clients take the code from this body: an unknown procedure is "unimplemented", as HTTP 404 maps in every RPC protocol.
    sendJson(res, 404, { code: "unimplemented", message: `no route for ${req.method} ${path}` });
  };
}

function sendJson(res: Parameters<NodeHandler>[1], status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}
