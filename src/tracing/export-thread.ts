// A span exporter that serializes each batch as an OTLP/HTTP JSON request and
// hands it to a worker thread, which sends it with the OTLP exporter's HTTP
// delegate (export-worker.mjs). The exporter's HTTP requests then run through
// Node's stream code in that thread only: on the server's thread, the same
// code serves the calls' HTTP/2 streams, and a request of another kind now and
// then turns it polymorphic for every call.
import { Worker } from "node:worker_threads";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-node";

const WORKER_URL = new URL("./export-worker.mjs", import.meta.url);

/**
 * A batch as the worker sends it: the OTLP/HTTP JSON request body, made here
 * by the SDK's own serializer and handed over without a copy, so that the
 * thread that sends makes no objects of its own per span.
 */
export function serializeBatch(spans: ReadableSpan[]): Uint8Array | undefined {
  return JsonTraceSerializer.serializeRequest(spans);
}

export class ThreadExporter implements SpanExporter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, (result: ExportResult) => void>();
  private next = 0;
  private failure: Error | undefined;

  /** The worker's HTTP delegate reads its OTEL_EXPORTER_OTLP_* settings from the environment, as it would here. */
  constructor() {
    this.worker = new Worker(WORKER_URL, { execArgv: [] });
    // Only an export in flight keeps the process alive (see send).
    this.worker.unref();
    this.worker.on("message", (m: { id: number; error?: string }) =>
      this.settle(m.id, m.error === undefined ? { code: ExportResultCode.SUCCESS } : failed(new Error(m.error))),
    );
    this.worker.on("error", (e) => this.fail(e));
    this.worker.on("exit", (code) => this.fail(new Error(`the span export thread exited with code ${code}`)));
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const body = serializeBatch(spans);
    if (body === undefined) {
      resultCallback(failed(new Error("the spans could not be serialized")));
      return;
    }
    this.send({ op: "export", body, spans: spans.length }, resultCallback, [body.buffer as ArrayBuffer]);
  }

  forceFlush(): Promise<void> {
    return new Promise((resolve) => this.send({ op: "flush" }, () => resolve()));
  }

  async shutdown(): Promise<void> {
    await new Promise<void>((resolve) => this.send({ op: "shutdown" }, () => resolve()));
    await this.worker.terminate();
  }

  private send(message: object, done: (result: ExportResult) => void, transfer: ArrayBuffer[] = []): void {
    if (this.failure) {
      done(failed(this.failure));
      return;
    }
    const id = this.next++;
    if (this.waiting.size === 0) this.worker.ref();
    this.waiting.set(id, done);
    this.worker.postMessage({ id, ...message }, transfer);
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
