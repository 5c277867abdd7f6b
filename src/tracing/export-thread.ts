// A span exporter that hands finished spans to a worker thread, which sends
// them with the OTLP/HTTP exporter (export-worker.mjs). The exporter's HTTP
// requests then run through Node's stream code in that thread only: on the
// server's thread, the same code serves the calls' HTTP/2 streams, and a
// request of another kind now and then turns it polymorphic for every call.
import { Worker } from "node:worker_threads";
import type { SpanContext } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-node";

const WORKER_URL = new URL("./export-worker.mjs", import.meta.url);

/** A span context that survives postMessage: the trace state as its header text. */
interface PlainContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: string;
}

/** What export-worker.mjs rebuilds a ReadableSpan from. */
export interface PlainSpan extends Omit<ReadableSpan, "spanContext" | "parentSpanContext" | "links" | "resource"> {
  spanContext: PlainContext;
  parentSpanContext?: PlainContext;
  links: { context: PlainContext; attributes?: ReadableSpan["attributes"]; droppedAttributesCount?: number }[];
}

const plainContext = (c: SpanContext): PlainContext => ({
  traceId: c.traceId,
  spanId: c.spanId,
  traceFlags: c.traceFlags,
  isRemote: c.isRemote,
  traceState: c.traceState?.serialize(),
});

export function plainSpan(s: ReadableSpan): PlainSpan {
  return {
    name: s.name,
    kind: s.kind,
    spanContext: plainContext(s.spanContext()),
    parentSpanContext: s.parentSpanContext && plainContext(s.parentSpanContext),
    startTime: s.startTime,
    endTime: s.endTime,
    duration: s.duration,
    ended: s.ended,
    status: s.status,
    attributes: s.attributes,
    links: s.links.map((l) => ({ context: plainContext(l.context), attributes: l.attributes, droppedAttributesCount: l.droppedAttributesCount })),
    events: s.events,
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
    instrumentationScope: s.instrumentationScope,
  };
}

export class ThreadExporter implements SpanExporter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, (result: ExportResult) => void>();
  private next = 0;
  private failure: Error | undefined;

  /** The worker's OTLP exporter reads its OTEL_EXPORTER_OTLP_* settings from the environment, as it would here. */
  constructor(resource: Resource) {
    this.worker = new Worker(WORKER_URL, { workerData: { resource: resource.attributes }, execArgv: [] });
    // Only an export in flight keeps the process alive (see send).
    this.worker.unref();
    this.worker.on("message", (m: { id: number; error?: string }) =>
      this.settle(m.id, m.error === undefined ? { code: ExportResultCode.SUCCESS } : failed(new Error(m.error))),
    );
    this.worker.on("error", (e) => this.fail(e));
    this.worker.on("exit", (code) => this.fail(new Error(`the span export thread exited with code ${code}`)));
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.send({ op: "export", spans: spans.map(plainSpan) }, resultCallback);
  }

  forceFlush(): Promise<void> {
    return new Promise((resolve) => this.send({ op: "flush" }, () => resolve()));
  }

  async shutdown(): Promise<void> {
    await new Promise<void>((resolve) => this.send({ op: "shutdown" }, () => resolve()));
    await this.worker.terminate();
  }

  private send(message: object, done: (result: ExportResult) => void): void {
    if (this.failure) {
      done(failed(this.failure));
      return;
    }
    const id = this.next++;
    if (this.waiting.size === 0) this.worker.ref();
    this.waiting.set(id, done);
    this.worker.postMessage({ id, ...message });
  }

  private settle(id: number, result: ExportResult): void {
    const done = this.waiting.get(id);
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    done?.(result);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const id of [...this.waiting.keys()]) this.settle(id, failed(e));
  }
}

const failed = (error: Error): ExportResult => ({ code: ExportResultCode.FAILED, error });
