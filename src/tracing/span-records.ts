// Spans recorded during calls as plain data, and made into the SDK's spans
// later, many at a time. The SDK's span code, run once now and then amid the
// calls, runs with cold caches at many times its cost in a loop
// (docs/design.md, "Tracing"); run for a batch of spans, it stays warm.
import { ROOT_CONTEXT, SpanStatusCode, trace, type SpanContext, type SpanKind, type Tracer } from "@opentelemetry/api";
import type { FinishedSpan } from "../engine/traced-call.js";
import type { ChosenTraceIds } from "./trace-ids.js";

/** A call's server span or one of its child spans, as recorded. */
export interface SpanRecord extends FinishedSpan {
  kind: SpanKind;
  /** The caller's span, or the call's for a child span; undefined for a root span. */
  parent: SpanContext | undefined;
  /** The ids the span was given when the call began (a server span); a child span gets new ones. */
  spanId?: string;
  /** A root span's trace id. */
  traceId?: string;
}

// How long a recorded span may wait, and how many may, before they are made.
const BATCH_DELAY_MS = 100;
const BATCH_MAX = 256;

/** Makes each record the SDK's span, with the ids, parent and times it was recorded with. */
export function makeSpans(tracer: Tracer, ids: ChosenTraceIds, records: readonly SpanRecord[]): void {
  for (const r of records) {
    ids.use(r.spanId, r.parent === undefined ? r.traceId : undefined);
    const parent = r.parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, r.parent);
    const span = tracer.startSpan(r.name, { kind: r.kind, startTime: r.startTime, attributes: r.attributes, links: r.links }, parent);
    ids.use(undefined);
    if (r.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: r.error });
    span.end(r.endTime);
  }
}

export class SpanRecorder {
  private pending: SpanRecord[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly ids: ChosenTraceIds,
  ) {}

  record(span: SpanRecord): void {
    this.pending.push(span);
    if (this.pending.length >= BATCH_MAX) this.flush();
    else this.timer ??= setTimeout(this.flush, BATCH_DELAY_MS).unref();
  }

  /** Makes every recorded span the SDK's span now. */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    const records = this.pending;
    this.pending = [];
    makeSpans(this.tracer, this.ids, records);
  };
}
