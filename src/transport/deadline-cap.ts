// The longest call deadline honoured (MAX_DEADLINE_MS). A longer
// grpc-timeout or connect-timeout-ms is clamped to the cap, not refused, as
// gRPC servers do: the client's deadline is its own budget, the cap is how
// long this server works on one call; past it the call ends with
// DEADLINE_EXCEEDED as if the client's deadline had passed.
import type { IncomingHttpHeaders } from "node:http";

const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const GRPC_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
const CONNECT_TIMEOUT = /^\d{1,10}$/;

/** Largest cap a grpc-timeout header can carry in milliseconds (8 digits). */
export const MAX_DEADLINE_CAP_MS = 99_999_999;

/**
 * Rewrites a deadline header over `maxMs` to `maxMs`, before connect-node
 * reads it (its own maxTimeoutMs would refuse the call instead). A malformed
 * value is left for connect-node to refuse.
 */
export function clampDeadlineHeaders(headers: IncomingHttpHeaders, maxMs: number): void {
  const grpc = headers["grpc-timeout"];
  if (typeof grpc === "string") {
    const m = GRPC_TIMEOUT.exec(grpc);
    if (m && Number(m[1]) * GRPC_UNIT_MS[m[2]!]! > maxMs) headers["grpc-timeout"] = `${maxMs}m`;
  }
  const connect = headers["connect-timeout-ms"];
  if (typeof connect === "string" && CONNECT_TIMEOUT.test(connect) && Number(connect) > maxMs) {
    headers["connect-timeout-ms"] = String(maxMs);
  }
}
