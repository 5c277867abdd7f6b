// A sampled call's place in its trace, handed down to the engine with the
// call's options (never through AsyncLocalStorage) so that the work done for
// the call can be recorded as its child spans. Absent when the call is not
// traced: then the engine does no tracing work at all.
import type { Attributes, Link, SpanContext } from "@opentelemetry/api";

/** A finished piece of a call's work, to become a child span of the call's span. */
export interface FinishedSpan {
  name: string;
  /** Epoch milliseconds (see epochMs). */
  startTime: number;
  endTime: number;
  attributes?: Attributes;
  links?: Link[];
  /** Set when the work failed: the span's error status message. */
  error?: string;
}

export interface TracedCall {
  /** The call's server span: the parent of its child spans, and what a shared run links to. */
  readonly context: SpanContext;
  /** Records a child span of the call's span (tracing/span-records.ts makes it the SDK's span later). */
  record(span: FinishedSpan): void;
}

/** A performance.now() time as epoch milliseconds, the time a span is given. */
export const epochMs = (clockMs: number = performance.now()): number => performance.timeOrigin + clockMs;
