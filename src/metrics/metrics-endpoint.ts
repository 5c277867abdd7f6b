// The HTTP side of metrics: `GET /metrics` in Prometheus text format. It is
// served on a listener of its own (METRICS_PORT), never on the API port: the
// text names methods, models, versions, load errors and process details.
import type { NodeHandler } from "../transport/node-handler.js";
import type { ServerMetrics } from "./server-metrics.js";

type Request = Parameters<NodeHandler>[0];
type Response = Parameters<NodeHandler>[1];

/**
 * A handler for `GET /metrics` (and HEAD) that works with node:http and
 * node:http2 compat requests. Returns true when it took the request, false
 * when the caller should route it elsewhere.
 */
export function metricsEndpoint(metrics: ServerMetrics, path = "/metrics"): (req: Request, res: Response) => boolean {
  return (req, res) => {
    const method = req.method ?? "GET";
    if ((method !== "GET" && method !== "HEAD") || (req.url ?? "/").split("?")[0] !== path) {
      return false;
    }
    metrics.render().then(
      ({ contentType, body }) => {
        res.statusCode = 200;
        res.setHeader("content-type", contentType);
        res.setHeader("cache-control", "no-store");
        if (method === "HEAD") res.end();
        else res.end(body);
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.setHeader("content-type", "text/plain; charset=utf-8");
        res.end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
    return true;
  };
}

/** The metrics listener's whole handler: `/metrics`, and 404 for anything else. */
export function metricsOnly(metrics: ServerMetrics): NodeHandler {
  const serve = metricsEndpoint(metrics);
  return (req, res) => {
    if (serve(req, res)) return;
    res.statusCode = 404;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end("not found: this port serves GET /metrics only\n");
  };
}
