// What the page says about a failed call. Field errors come from the
// error's google.rpc.BadRequest detail, so the page holds no copy of the
// contract's rules.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";

export interface ShownError {
  /** One sentence for the panel. */
  message: string;
  /** Field path (e.g. "age") → what is wrong with it. */
  fields: Map<string, string>;
  /** The key is missing or was refused: the key box says so too. */
  keyProblem: boolean;
}

export function explain(reason: unknown): ShownError {
  const err = ConnectError.from(reason);
  const fields = new Map<string, string>();
  for (const detail of err.findDetails(BadRequestSchema)) {
    for (const v of detail.fieldViolations) fields.set(v.field, fields.has(v.field) ? `${fields.get(v.field)}; ${v.description}` : v.description);
  }
  return { message: sentence(err, fields.size), fields, keyProblem: err.code === Code.Unauthenticated };
}

// What browsers' fetch says when no answer came at all (Chromium, Firefox, Safari).
const UNREACHABLE = /failed to fetch|networkerror|load failed/i;

function sentence(err: ConnectError, fieldCount: number): string {
  if (UNREACHABLE.test(err.rawMessage)) return "The server cannot be reached. Check that it is running, then try again.";
  switch (err.code) {
    case Code.InvalidArgument:
      return fieldCount > 0
        ? `Please correct the marked ${fieldCount === 1 ? "field" : `${fieldCount} fields`}.`
        : `The server could not use this input: ${err.rawMessage}`;
    case Code.Unauthenticated:
      return "The server refused the API key. Check it and save it again.";
    case Code.Unavailable:
      return `The model is not ready yet: ${err.rawMessage}.`;
    case Code.NotFound:
      return `Not found: ${err.rawMessage}`;
    case Code.ResourceExhausted:
      return `The server is busy or the input is too large: ${err.rawMessage}`;
    case Code.DeadlineExceeded:
      return "The server took too long to answer. Try again.";
    default:
      return `Something went wrong (${Code[err.code]}): ${err.rawMessage}`;
  }
}
