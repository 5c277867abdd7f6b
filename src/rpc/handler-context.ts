// What a handler may know of its call, whichever path served it (Connect's
// router or the unary fast path). Lives below transport/ and services/ so
// both import it and neither imports the other.
import { createContextKey, type ContextValues } from "@connectrpc/connect";
import type { Cancellation } from "../cancellation.js";
import type { TracedCall } from "../engine/traced-call.js";

/** What a unary handler needs of its call: Connect's HandlerContext has it, and so does the fast path's. */
export interface CallContext {
  /** Aborts when the client goes away or the deadline passes. */
  signal: Cancellation;
  /** Milliseconds left before the deadline, if there is one. */
  timeoutMs(): number | undefined;
  /** The call's trace when it is sampled (fast path). */
  trace?: TracedCall;
  /** Connect's context values, where its path keeps the trace (call-trace.ts). */
  values?: ContextValues;
}

/** The client connection (HTTP/2 session or socket) a call arrived on. */
export const connectionKey = createContextKey<object | undefined>(undefined, { description: "client connection" });
