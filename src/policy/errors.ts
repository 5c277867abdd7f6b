// How failures become API errors: the right code, a message a client can act
// on, machine-readable details, and never an internal detail or stack trace.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import type { NonDecimalNumber } from "../codec/json-numbers.js";
import { clientFaultMessage } from "./client-faults.js";
import { describeViolations, type FieldViolation } from "./field-violations.js";

/** INVALID_ARGUMENT with a google.rpc.BadRequest detail listing each violation. */
export function invalidArgument(violations: readonly FieldViolation[]): ConnectError {
  const detail = create(BadRequestSchema, {
    fieldViolations: violations.map((v) => ({ field: v.field, description: v.description, reason: v.rule })),
  });
  return new ConnectError(describeViolations(violations), Code.InvalidArgument, undefined, [{ desc: BadRequestSchema, value: detail }]);
}

/** INVALID_ARGUMENT for a number given as a non-decimal string, e.g. "0x1F" (proto3 JSON allows decimal strings only). */
export function nonDecimalNumber(found: NonDecimalNumber): ConnectError {
  return invalidArgument([
    { field: found.field, rule: "DECIMAL", description: `must be a JSON number or a decimal string, got ${JSON.stringify(found.value)}` },
  ]);
}

export const unauthenticated = () => new ConnectError("missing or invalid API key", Code.Unauthenticated);

/** A valid key used outside its scope; the message names the key and the method, never the key itself. */
export const permissionDenied = (keyName: string, method: string) => new ConnectError(`key '${keyName}' may not call ${method}`, Code.PermissionDenied);

/** A key over its rate, with a google.rpc.RetryInfo detail: the wait until its next call is admitted. */
export function rateLimited(keyName: string, rate: number, waitMs: number): ConnectError {
  const ms = Math.ceil(waitMs);
  const detail = create(RetryInfoSchema, { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 } });
  return new ConnectError(`key '${keyName}' is over its rate of ${rate} calls per second`, Code.ResourceExhausted, undefined, [
    { desc: RetryInfoSchema, value: detail },
  ]);
}

export const clientCancelled = () => new ConnectError("the client cancelled the call", Code.Canceled);

// Node's codes for reading or writing a stream the client reset, or a connection it closed.
const PEER_GONE = new Set([
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ECONNRESET",
  "EPIPE",
]);

/** True when `reason` (or an error in its cause chain) says the client went away. */
function peerGone(reason: unknown): boolean {
  for (let e = reason, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (PEER_GONE.has(String((e as { code?: unknown }).code))) return true;
  }
  return false;
}

// A call's signal fires for the client leaving, its deadline, or the server
// shutting down; only the client leaving is CANCELLED.
const SIGNAL_CODES_KEPT = new Set([Code.DeadlineExceeded, Code.Unavailable]);

/**
 * How a call ended whose signal fired before it finished: the client left, so
 * CANCELLED, whatever the handler threw after that (e.g. a write to the
 * stream the client reset); a deadline or a shutdown keeps its own code.
 */
export function endedBySignal(signalReason: unknown): ConnectError {
  if (signalReason instanceof ConnectError && SIGNAL_CODES_KEPT.has(signalReason.code)) return signalReason;
  return clientCancelled();
}

/**
 * The error to send for anything a handler threw. ConnectErrors are ours and
 * pass through; anything else is a bug or an inference failure whose message
 * may hold internals, so the client gets a generic INTERNAL and the caller
 * logs the original.
 */
export function toClientError(reason: unknown): { error: ConnectError; internal: boolean } {
  // A read or write on a stream the client dropped is its cancellation, not our fault.
  if (peerGone(reason)) return { error: clientCancelled(), internal: false };
  if (reason instanceof ConnectError) {
    // connect-es raises INTERNAL for some request problems of the client's (e.g. a stream's undeclared compression).
    const clientFault = reason.code === Code.Internal ? clientFaultMessage(reason.rawMessage) : undefined;
    if (clientFault !== undefined) return { error: new ConnectError(clientFault, Code.InvalidArgument), internal: false };
    // INTERNAL and UNKNOWN are only ever our fault: client mistakes have codes of their own.
    return { error: reason, internal: reason.code === Code.Internal || reason.code === Code.Unknown };
  }
  return { error: new ConnectError("internal error", Code.Internal), internal: true };
}
