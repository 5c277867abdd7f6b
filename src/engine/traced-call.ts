// A sampled call's place in its trace, handed down to the engine with the
// call's options (never through AsyncLocalStorage) so that the work done for
// the call can be recorded as its child spans. Absent when the call is not
// traced: then the engine does no tracing work at all.
import type { Context, Tracer } from "@opentelemetry/api";

export interface TracedCall {
  tracer: Tracer;
  /** The context holding the call's server span: the parent of its child spans. */
  context: Context;
}
