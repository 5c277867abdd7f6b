// Worker thread of the span exporter (see export-thread.ts, its only user):
// sends the spans it is given with the OTLP/HTTP exporter, which reads its
// OTEL_EXPORTER_OTLP_* settings from the environment.
//
// Plain ESM JavaScript, as inference-worker.mjs and for the same reason: it
// runs under tsx, vitest and compiled JS alike (the build copies it).
//
// Protocol (messages from the exporter):
//   { op: "export", id, spans: PlainSpan[] }  -> { id } or { id, error }
//   { op: "flush", id }                       -> { id }
//   { op: "shutdown", id }                    -> { id }, after the last send
import { parentPort, workerData } from "node:worker_threads";
import { ExportResultCode, TraceState } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";

if (!parentPort) throw new Error("export-worker.mjs must be started as a worker thread by export-thread.ts");
const port = parentPort;

const exporter = new OTLPTraceExporter();
// One resource object for every span: the OTLP encoding groups spans by it.
const resource = resourceFromAttributes(workerData.resource);

const context = (c) => (c === undefined ? undefined : { ...c, traceState: c.traceState === undefined ? undefined : new TraceState(c.traceState) });

function readable(s) {
  const spanContext = context(s.spanContext);
  return {
    ...s,
    spanContext: () => spanContext,
    parentSpanContext: context(s.parentSpanContext),
    links: s.links.map((l) => ({ ...l, context: context(l.context) })),
    resource,
  };
}

port.on("message", (m) => {
  switch (m.op) {
    case "export":
      exporter.export(m.spans.map(readable), (result) =>
        port.postMessage(result.code === ExportResultCode.SUCCESS ? { id: m.id } : { id: m.id, error: result.error?.message ?? "export failed" }),
      );
      break;
    case "flush":
      exporter.forceFlush().finally(() => port.postMessage({ id: m.id }));
      break;
    case "shutdown":
      exporter.shutdown().finally(() => port.postMessage({ id: m.id }));
      break;
  }
});
