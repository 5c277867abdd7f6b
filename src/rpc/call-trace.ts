// How a handler finds its call's trace: the fast path hands it in the
// CallContext, connect-node's interceptor in the context values.
import { createContextKey, type ContextValues } from "@connectrpc/connect";
import type { TracedCall } from "../engine/traced-call.js";

/** Set by the call-log interceptor for a sampled call. */
export const tracedCallKey = createContextKey<TracedCall | undefined>(undefined, { description: "the call's trace" });

export function traceOf(ctx: { trace?: TracedCall; values?: ContextValues }): TracedCall | undefined {
  return ctx.trace ?? ctx.values?.get(tracedCallKey);
}
