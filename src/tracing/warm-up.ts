// Runs many calls' spans through the server's own span code at startup, into
// a Tracing of its own whose spans are serialized and dropped. At a low ratio
// a sampled call is rare under load, and the span code would otherwise run
// for tens of seconds in slow, unoptimized form: the objects these calls make
// have the very shapes the server's calls' spans have, so that the compiled
// code still fits them.
import { ExportResultCode } from "@opentelemetry/core";
import { BatchSpanProcessor, type ReadableSpan, type Sampler, type SpanExporter } from "@opentelemetry/sdk-trace-node";
import { startRunSpans } from "../engine/run-spans.js";
import { Tracing } from "./call-spans.js";
import { serializeBatch } from "./export-thread.js";

const WARM_UP_CALLS = 10000;
const METHOD = "/prediction.v1.PredictionService/Predict";
const CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/** Serializes each batch as the export thread's exporter does, then drops it. */
const dropping: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    serializeBatch(spans);
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: () => Promise.resolve(),
};

const noHeaders = () => undefined;
const callerHeaders = (name: string) => (name === "traceparent" ? CALLER : name === "tracestate" ? "caller=1" : undefined);

/**
 * Root and child calls, over gRPC and Connect, answered OK, with a client
 * error and with a server fault. `sampler` is the server's kind of sampler at
 * ratio 1 (samplerFromEnv), so that the code compiled calls the server's.
 */
export function warmUpSpans(sampler: Sampler): void {
  const tracing = new Tracing({ sampler, spanProcessors: [new BatchSpanProcessor(dropping)] });
  for (let i = 0; i < WARM_UP_CALLS; i++) {
    const call = tracing.startSampled(METHOD, i % 2 === 0 ? "grpc" : "connect", i % 4 < 2 ? noHeaders : callerHeaders);
    const queued = performance.now();
    const run = startRunSpans([{ trace: call?.traced, enqueuedAt: queued, rows: 1 }], { model: "warm-up", version: "1", start: queued });
    const fault = i % 16 === 15;
    run?.end(fault ? "warm-up" : undefined);
    if (fault) call?.end(13, "INTERNAL", "warm-up");
    else if (i % 8 === 7) call?.end(3, "INVALID_ARGUMENT", "warm-up");
    else call?.end(0, "OK");
  }
  void tracing.shutdown();
}
