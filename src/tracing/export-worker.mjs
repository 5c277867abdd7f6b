// Worker thread of the span exporter (see export-thread.ts, its only user):
// sends the batches it is given, already serialized as OTLP/HTTP JSON, with
// the OTLP exporter's HTTP delegate, which reads its OTEL_EXPORTER_OTLP_*
// settings (endpoint, headers, timeout, compression) from the environment and
// retries as the exporter does. It only sends: a thread that also decoded and
// encoded the spans made garbage and compiled code for the whole process.
//
// Plain ESM JavaScript, as inference-worker.mjs and for the same reason: it
// runs under tsx, vitest and compiled JS alike (the build copies it).
//
// Protocol (messages from the exporter):
//   { op: "export", id, body: Uint8Array, spans: number }  -> { id } or { id, error }
//   { op: "flush", id }                                      -> { id }
//   { op: "shutdown", id }                                   -> { id }, after the last send
import { parentPort } from "node:worker_threads";
import { ExportResultCode } from "@opentelemetry/core";
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from "@opentelemetry/otlp-exporter-base/node-http";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";

if (!parentPort) throw new Error("export-worker.mjs must be started as a worker thread by export-thread.ts");
const port = parentPort;

/** The batch is its own request body; a response (partial success) is read as the exporter reads it. */
const serialized = {
  serializeRequest: (batch) => batch.body,
  deserializeResponse: (data) => JsonTraceSerializer.deserializeResponse(data),
};

const delegate = createOtlpHttpExportDelegate(
  convertLegacyHttpOptions({}, "TRACES", "v1/traces", { "Content-Type": "application/json" }),
  serialized,
  "otlp_http_span_exporter",
  { name: "span", countItems: (batch) => batch.spans },
);

port.on("message", (m) => {
  switch (m.op) {
    case "export":
      delegate.export(m, (result) =>
        port.postMessage(result.code === ExportResultCode.SUCCESS ? { id: m.id } : { id: m.id, error: result.error?.message ?? "export failed" }),
      );
      break;
    case "flush":
      delegate.forceFlush().finally(() => port.postMessage({ id: m.id }));
      break;
    case "shutdown":
      delegate.shutdown().finally(() => port.postMessage({ id: m.id }));
      break;
  }
});
