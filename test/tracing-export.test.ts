// End to end: the server started as operators start it, with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP/HTTP receiver, sends
// the spans of a traced call there, named and sampled as the standard
// OpenTelemetry variables say.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { VALID } from "./support/applications.js";
import { startChildServer, type ChildServer } from "./support/child-server.js";
import { startOtlpReceiver, type OtlpReceiver } from "./support/otlp-receiver.js";
import { PROTOCOL_CLIENTS } from "./support/protocol-clients.js";

const KEY = "tracing-export-key";

let receiver: OtlpReceiver;
let server: ChildServer;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  server = await startChildServer({
    API_KEYS: KEY,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_SERVICE_NAME: "prediction-e2e",
    // Only what the caller sampled: a call that brings no trace must not arrive.
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "0",
    OTEL_BSP_SCHEDULE_DELAY: "100",
    // The exporter's own settings reach the thread that sends.
    OTEL_EXPORTER_OTLP_HEADERS: "x-collector-key=e2e-secret",
  });
});
afterAll(async () => {
  await server?.stop();
  await receiver?.close();
});

it("sends a traced gRPC call's spans to the OTLP endpoint, and no span of an unsampled call", async () => {
  const client = PROTOCOL_CLIENTS.find((c) => c.name === "grpc-js (gRPC, h2c)")!.make(server.baseUrl);
  const untraced = await client.predict(VALID, { headers: { "x-api-key": KEY } });
  expect(untraced.ok).toBe(true);
  const traceId = randomBytes(16).toString("hex");
  const parentId = randomBytes(8).toString("hex");
  const traced = await client.predict(VALID, { headers: { "x-api-key": KEY, traceparent: `00-${traceId}-${parentId}-01` } });
  client.close();
  expect(traced.ok).toBe(true);

  const span = await receiver.waitFor((s) => s.traceId === traceId && s.name === "prediction.v1.PredictionService/Predict", 20_000);
  expect(span.parentSpanId).toBe(parentId);
  expect(span.serviceName).toBe("prediction-e2e");
  expect(span.attributes).toMatchObject({
    "rpc.system": "grpc",
    "rpc.service": "prediction.v1.PredictionService",
    "rpc.method": "Predict",
    "rpc.grpc.status_code": 0,
  });
  const run = await receiver.waitFor((s) => s.traceId === traceId && s.name === "inference", 5_000);
  expect(run.parentSpanId).toBe(span.spanId);
  // Spans arrive in batches: the untraced call, made first, would have come by now.
  expect(receiver.spans.filter((s) => s.traceId !== traceId)).toEqual([]);
  expect(receiver.requestHeaders.length).toBeGreaterThan(0);
  for (const h of receiver.requestHeaders) expect(h["x-collector-key"]).toBe("e2e-secret");
});
