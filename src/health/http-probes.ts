// GET /healthz (live) and GET /readyz (ready) for load balancers and probes
// that cannot speak gRPC. They read the very statuses grpc.health answers
// (LIVENESS and "", see probe-services.ts), so the two views never disagree.
// Open (no key) and terse: the body is the status and nothing else.
import { HealthCheckResponse_ServingStatus as Serving } from "../../gen/grpc/health/v1/health_pb.js";
import type { NodeHandler } from "../transport/node-handler.js";
import type { HealthStatus } from "./health-status.js";
import { LIVENESS } from "./probe-services.js";

type Request = Parameters<NodeHandler>[0];
type Response = Parameters<NodeHandler>[1];

/** The probe paths and the grpc.health service name each reports. */
const PROBES = new Map([
  ["/healthz", LIVENESS],
  ["/readyz", ""],
]);

/** Answers a probe path and returns true; returns false and leaves any other request alone. */
export function httpProbes(health: HealthStatus): (req: Request, res: Response) => boolean {
  return (req, res) => {
    const service = PROBES.get((req.url ?? "/").split("?")[0]);
    if (service === undefined) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end("method not allowed\n");
      return true;
    }
    const serving = health.get(service) === Serving.SERVING;
    const body = serving ? "SERVING\n" : "NOT_SERVING\n";
    // A probe must see the status now, never a cached one.
    res.writeHead(serving ? 200 : 503, { "content-type": "text/plain; charset=utf-8", "content-length": String(body.length), "cache-control": "no-store" });
    if (req.method === "HEAD") res.end();
    else res.end(body);
    return true;
  };
}
