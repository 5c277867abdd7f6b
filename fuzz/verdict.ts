// What makes a fuzz case fail: the client saw a hang, a reset, an HTTP 5xx,
// INTERNAL or UNKNOWN, or a gRPC answer without a status; or the server
// logged the call as INTERNAL/UNKNOWN, or logged an error for it.
import type { FuzzCase } from "./cases.js";
import type { Reply } from "./send.js";

const SERVER_FAULTS = new Set(["INTERNAL", "UNKNOWN"]);
const LEVEL_ERROR = 50;

export type LogLine = Record<string, unknown>;

/**
 * The two 5xx answers the protocols themselves prescribe for a client's
 * request, not a server fault: 505 for a bidi-streaming procedure over
 * HTTP/1.1 (which cannot carry one), and Connect's 501 for UNIMPLEMENTED (an
 * unknown content-encoding). They are counted apart in the report.
 */
export function prescribed5xx(c: FuzzCase, reply: Reply): string | undefined {
  if (reply.httpStatus === 505 && c.http === "h1" && c.path.streaming) return "505 bidi over HTTP/1.1";
  if (reply.httpStatus === 501 && c.protocol === "connect" && reply.code === "UNIMPLEMENTED") return "501 Connect unimplemented";
  return undefined;
}

/** Everything wrong with one case's answer and its server log lines; empty when it passed. */
export function problems(c: FuzzCase, reply: Reply, logged: readonly LogLine[]): string[] {
  const out: string[] = [];
  const prescribed = prescribed5xx(c, reply) !== undefined;
  if (reply.hang) out.push("hang: no answer in time");
  if (reply.reset) out.push(`reset: ${reply.reset}`);
  if (reply.httpStatus >= 500 && !prescribed) out.push(`HTTP ${reply.httpStatus}`);
  if (reply.code && SERVER_FAULTS.has(reply.code) && !prescribed) out.push(`client saw ${reply.code}`);
  if (!reply.code && !reply.hang && !reply.reset && !prescribed) out.push(`no status in the answer (HTTP ${reply.httpStatus})`);
  for (const line of logged) {
    if (typeof line.code === "string" && SERVER_FAULTS.has(line.code)) out.push(`server logged ${line.code}: ${String(line.error ?? "")}`);
    if (Number(line.level) >= LEVEL_ERROR) out.push(`server logged an error: ${String(line.msg)} ${JSON.stringify(line.err ?? "")}`.slice(0, 300));
  }
  return out;
}
