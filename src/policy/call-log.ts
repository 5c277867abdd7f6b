// One structured log line per call. The line never holds the API key or the
// request payload (it may be personal data): only what operators need.
import type { Logger } from "pino";
import type { Code } from "@connectrpc/connect";
import { Code as Codes } from "@connectrpc/connect";
import type { TraceIds } from "../tracing/call-spans.js";
import type { Protocol } from "./call-context.js";

export interface CallRecord {
  requestId: string;
  /** Full method path, e.g. "/prediction.v1.PredictionService/Predict". */
  method: string;
  protocol: Protocol;
  /** Name of the call's API key (never the key); undefined for open services and refused keys. */
  key?: string;
  code: Code | 0;
  durationMs: number;
  /** Error message sent to the client, when the call failed. */
  error?: string;
  /** The failure was the server's (a bug or an inference failure), not the client's. */
  fault?: boolean;
  /** Subject of the client's TLS certificate, when clients present one. */
  clientSubject?: string;
  /** The call's trace, when it is sampled or the caller sent one. */
  ids?: TraceIds;
}

/** The canonical gRPC name of a code, e.g. "INVALID_ARGUMENT". */
export function codeName(code: Code | 0): string {
  if (code === 0) return "OK";
  // gRPC spells this one with two Ls; connect's enum name has one.
  if (code === Codes.Canceled) return "CANCELLED";
  return Codes[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/** Most (method, protocol, code, key name) combinations given a logger of their own. */
const MAX_BOUND_LOGGERS = 256;

/**
 * Writes the per-call log lines. The fields that repeat from call to call
 * (method, protocol, code, key name) are bound into a pino child logger per
 * combination, whose fields pino serializes once; a line then costs the
 * serialization of its request id and duration only (docs/design.md,
 * "Logging").
 * Method names come from clients, so the combinations are capped; past the
 * cap a line is written whole.
 */
export class CallLog {
  private readonly bound = new Map<string, Logger>();

  constructor(private readonly logger: Logger) {}

  /** `code` is the status's gRPC name, codeName(rec.code). */
  write(rec: CallRecord, code: string): void {
    const durationMs = Math.round(rec.durationMs * 1000) / 1000;
    // One object shape for every line, absent fields undefined (pino leaves
    // them out): pino's serializer, run for every call, then meets one shape.
    const perCall = {
      requestId: rec.requestId,
      durationMs,
      error: rec.error,
      clientSubject: rec.clientSubject,
      trace_id: rec.ids?.traceId,
      span_id: rec.ids?.spanId,
    };
    const logger = this.loggerFor(rec.method, rec.protocol, code, rec.key);
    const line = logger === this.logger ? { ...perCall, method: rec.method, protocol: rec.protocol, code, key: rec.key } : perCall;
    // Server faults are errors; client mistakes are routine and only worth info.
    if (rec.fault) logger.error(line, "call");
    else logger.info(line, "call");
  }

  private loggerFor(method: string, protocol: Protocol, code: string, key: string | undefined): Logger {
    const combination = `${method} ${protocol} ${code} ${key ?? ""}`;
    let logger = this.bound.get(combination);
    if (logger === undefined) {
      if (this.bound.size >= MAX_BOUND_LOGGERS) return this.logger;
      logger = this.logger.child(key === undefined ? { method, protocol, code } : { method, protocol, code, key });
      this.bound.set(combination, logger);
    }
    return logger;
  }
}
