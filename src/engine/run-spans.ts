// The spans of one batched inference run: for each traced call in it, the
// time it waited in the batch queue (a child of that call's span), and one
// span for the run itself, a child of the first traced call and linked to
// every traced call sharing the run (a run serves many calls, a span has one
// parent).
import { trace, type Span } from "@opentelemetry/api";
import type { TracedCall } from "./traced-call.js";

export interface TracedItem {
  trace?: TracedCall;
  /** Engine clock (performance.now) ms when the item was queued. */
  enqueuedAt: number;
  rows: number;
}

export interface RunFacts {
  model: string;
  version: string;
  /** Engine clock ms when the run started. */
  start: number;
}

// Epoch times, so that the SDK takes them as given: a performance.now() time
// is shifted by an offset of each span's own, and the queue wait would not
// end exactly where the run begins.
const epoch = (clockMs: number) => performance.timeOrigin + clockMs;

/** Starts the run's spans; undefined when no call in the batch is traced (the common case). */
export function startRunSpans(items: readonly TracedItem[], facts: RunFacts): Span | undefined {
  let first: TracedCall | undefined;
  for (const item of items)
    if (item.trace) {
      first = item.trace;
      break;
    }
  if (first === undefined) return undefined;
  const links = [];
  let rows = 0;
  for (const item of items) {
    rows += item.rows;
    if (!item.trace) continue;
    item.trace.tracer
      .startSpan("batch queue", { startTime: epoch(item.enqueuedAt), attributes: { "prediction.batch.rows": item.rows } }, item.trace.context)
      .end(epoch(facts.start));
    const context = trace.getSpanContext(item.trace.context);
    if (context) links.push({ context });
  }
  return first.tracer.startSpan(
    "inference",
    {
      startTime: epoch(facts.start),
      links,
      attributes: {
        "prediction.model.name": facts.model,
        "prediction.model.version": facts.version,
        "prediction.batch.size": rows,
        "prediction.batch.calls": items.length,
      },
    },
    first.context,
  );
}
