// How failures become API errors: the right code, a message a client can act
// on, machine-readable details, and never an internal detail or stack trace.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { describeViolations, type FieldViolation } from "./field-violations.js";

/** INVALID_ARGUMENT with a google.rpc.BadRequest detail listing each violation. */
export function invalidArgument(violations: readonly FieldViolation[]): ConnectError {
  const detail = create(BadRequestSchema, {
    fieldViolations: violations.map((v) => ({ field: v.field, description: v.description, reason: v.rule })),
  });
  return new ConnectError(describeViolations(violations), Code.InvalidArgument, undefined, [
    { desc: BadRequestSchema, value: detail },
  ]);
}

export const unauthenticated = () => new ConnectError("missing or invalid API key", Code.Unauthenticated);

/** A valid key used outside its scope; the message names the key and the method, never the key itself. */
export const permissionDenied = (keyName: string, method: string) =>
  new ConnectError(`key '${keyName}' may not call ${method}`, Code.PermissionDenied);

/** A key over its rate, with a google.rpc.RetryInfo detail: the wait until its next call is admitted. */
export function rateLimited(keyName: string, rate: number, waitMs: number): ConnectError {
  const ms = Math.ceil(waitMs);
  const detail = create(RetryInfoSchema, { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 } });
  return new ConnectError(`key '${keyName}' is over its rate of ${rate} calls per second`, Code.ResourceExhausted, undefined, [
    { desc: RetryInfoSchema, value: detail },
  ]);
}

/**
 * The error to send for anything a handler threw. ConnectErrors are ours and
 * pass through; anything else is a bug or an inference failure whose message
 * may hold internals, so the client gets a generic INTERNAL and the caller
 * logs the original.
 */
export function toClientError(reason: unknown): { error: ConnectError; internal: boolean } {
  // An INTERNAL we raised ourselves for a protocol violation (no cause) is the
  // client's doing; one wrapping a cause (e.g. an inference failure) is ours.
  if (reason instanceof ConnectError) return { error: reason, internal: reason.code === Code.Internal && reason.cause !== undefined };
  return { error: new ConnectError("internal error", Code.Internal), internal: true };
}
