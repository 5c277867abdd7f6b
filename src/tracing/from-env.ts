// Tracing as the OpenTelemetry environment variables configure it: spans go
// to OTEL_EXPORTER_OTLP_ENDPOINT (OTLP over HTTP, JSON), sampled as
// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG say (at a trace-id ratio, the
// calls with no incoming trace in runs: root-runs.ts), from the service named
// OTEL_SERVICE_NAME (default prediction-server). Off without an endpoint.
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { Tracing } from "./call-spans.js";
import { ThreadExporter } from "./export-thread.js";
import { samplerFromEnv } from "./sampler-from-env.js";
import { warmUpSpans } from "./warm-up.js";

/** The exporter and the batch processor read their OTEL_* settings from process.env themselves. */
export function tracingFromEnv(env: Record<string, string | undefined> = process.env): Tracing {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: "prediction-server" }))
    .merge(detectResources({ detectors: [envDetector] }));
  warmUpSpans(samplerFromEnv({ ...env, OTEL_TRACES_SAMPLER_ARG: "1" }).sampler);
  return new Tracing({ ...samplerFromEnv(env), resource, spanProcessors: [new BatchSpanProcessor(new ThreadExporter())] });
}
