// How failures become API errors: the right code, a message a client can act
// on, machine-readable details, and never an internal detail or stack trace.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
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
