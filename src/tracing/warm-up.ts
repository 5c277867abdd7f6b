// Runs the sampled call's span code many times at startup, on spans that go
// nowhere: at a low ratio it runs too rarely under load to be compiled to
// fast code, and each sampled call then costs several times its spans' work.
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { ExportResultCode } from "@opentelemetry/core";
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { serializeBatch } from "./export-thread.js";
import { ChosenTraceIds } from "./trace-ids.js";

const WARM_UP_CALLS = 10000;

/** Serializes each batch as the export thread's exporter does, then drops it. */
const dropping: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    serializeBatch(spans);
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: () => Promise.resolve(),
};

export function warmUpSpans(name: string): void {
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    idGenerator: new ChosenTraceIds(),
    spanProcessors: [new BatchSpanProcessor(dropping)],
  });
  const tracer = provider.getTracer(name);
  for (let i = 0; i < WARM_UP_CALLS; i++) {
    const span = tracer.startSpan("prediction.v1.PredictionService/Predict", { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    span.setAttributes({ "rpc.system": "grpc", "rpc.service": "prediction.v1.PredictionService", "rpc.method": "Predict" });
    const context = trace.setSpan(ROOT_CONTEXT, span);
    const child = tracer.startSpan("batch queue", { attributes: { "prediction.batch.rows": 1 } }, context);
    child.end();
    span.setAttribute("rpc.grpc.status_code", 0);
    span.end();
  }
  void provider.shutdown();
}
