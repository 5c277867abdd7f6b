// The spans of one batched inference run: for each traced call in it, the
// time it waited in the batch queue (a child of that call's span), and one
// span for the run itself, a child of the first traced call and linked to
// every traced call sharing the run (a run serves many calls, a span has one
// parent).
import type { Link } from "@opentelemetry/api";
import { epochMs, type TracedCall } from "./traced-call.js";

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

/** A run being traced: end() records its span. */
export interface RunSpan {
  end(error?: string): void;
}

/**
 * Records each traced call's queue wait and returns the run's span, ended
 * when the run is; undefined when no call in the batch is traced (the common
 * case). The wait ends exactly where the run begins.
 */
export function startRunSpans(items: readonly TracedItem[], facts: RunFacts): RunSpan | undefined {
  let first: TracedCall | undefined;
  for (const item of items)
    if (item.trace) {
      first = item.trace;
      break;
    }
  if (first === undefined) return undefined;
  const start = epochMs(facts.start);
  const links: Link[] = [];
  let rows = 0;
  for (const item of items) {
    rows += item.rows;
    if (!item.trace) continue;
    item.trace.record({ name: "batch queue", startTime: epochMs(item.enqueuedAt), endTime: start, attributes: { "prediction.batch.rows": item.rows } });
    links.push({ context: item.trace.context });
  }
  const attributes = {
    "prediction.model.name": facts.model,
    "prediction.model.version": facts.version,
    "prediction.batch.size": rows,
    "prediction.batch.calls": items.length,
  };
  const parent = first;
  return { end: (error) => parent.record({ name: "inference", startTime: start, endTime: epochMs(), attributes, links, error }) };
}
