// Tracing as the OpenTelemetry environment variables configure it: spans go
// to OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP, JSON), sampled as
// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG say, from the service named
// OTEL_SERVICE_NAME (default prediction-server). Off without an endpoint.
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { Tracing } from "./call-spans.js";

/**
 * The SDK reads its settings from process.env. The provider is never
 * registered globally: no context manager, no AsyncLocalStorage per call;
 * the call's context is handed down explicitly.
 */
export function tracingFromEnv(): Tracing {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: "prediction-server" }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  return new Tracing(provider);
}
