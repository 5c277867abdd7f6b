// CORS for browser clients (Connect-Web, gRPC-Web) on other origins, using
// connect's own lists of the methods and headers its protocols need.
import { cors } from "@connectrpc/connect";
import type { NodeHandler } from "./node-handler.js";

const allowHeaders = [...cors.allowedHeaders, "x-api-key", "authorization", "x-request-id"].join(", ");
const exposeHeaders = [...cors.exposedHeaders, "x-request-id", "x-response-time-ms"].join(", ");
const allowMethods = cors.allowedMethods.join(", ");

/** Wraps a handler so the listed origins ("*" for any) may call it from a browser. */
export function withCors(handler: NodeHandler, origins: readonly string[]): NodeHandler {
  if (origins.length === 0) return handler;
  const anyOrigin = origins.includes("*");
  const allowed = new Set(origins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string" && (anyOrigin || allowed.has(origin))) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("vary", "Origin");
      res.setHeader("access-control-expose-headers", exposeHeaders);
      if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
        res.setHeader("access-control-allow-methods", allowMethods);
        res.setHeader("access-control-allow-headers", allowHeaders);
        res.setHeader("access-control-max-age", "7200");
        res.statusCode = 204;
        res.end();
        return;
      }
    }
    handler(req, res);
  };
}
