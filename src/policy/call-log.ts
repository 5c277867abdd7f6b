// One structured log line per call. The line never holds the API key or the
// request payload (it may be personal data): only what operators need.
import type { Logger } from "pino";
import type { Code } from "@connectrpc/connect";
import { Code as Codes } from "@connectrpc/connect";
import type { Protocol } from "./call-context.js";

export interface CallRecord {
  requestId: string;
  /** Full method path, e.g. "/prediction.v1.PredictionService/Predict". */
  method: string;
  protocol: Protocol;
  code: Code | 0;
  durationMs: number;
  /** Error message sent to the client, when the call failed. */
  error?: string;
  /** The failure was the server's (a bug or an inference failure), not the client's. */
  fault?: boolean;
}

/** The canonical gRPC name of a code, e.g. "INVALID_ARGUMENT". */
export function codeName(code: Code | 0): string {
  if (code === 0) return "OK";
  // gRPC spells this one with two Ls; connect's enum name has one.
  if (code === Codes.Canceled) return "CANCELLED";
  return Codes[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export function logCall(logger: Logger, rec: CallRecord): void {
  const line = {
    requestId: rec.requestId,
    method: rec.method,
    protocol: rec.protocol,
    code: codeName(rec.code),
    durationMs: Math.round(rec.durationMs * 1000) / 1000,
    ...(rec.error !== undefined ? { error: rec.error } : {}),
  };
  // Server faults are errors; client mistakes are routine and only worth info.
  if (rec.fault) logger.error(line, "call");
  else logger.info(line, "call");
}
