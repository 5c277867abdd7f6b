// Tracing through the real server: a call carrying a W3C traceparent gets a
// server span that is a child of the caller's span, with the RPC semantic
// conventions' attributes, child spans for the batch queue wait, the
// inference run (linked to every call sharing it) and image decoding, and
// its log line carries the trace ids. Spans go to the SDK's in-memory
// exporter; both server paths (unary fast path and connect-node) and the
// gRPC, gRPC-Web and Connect protocols are covered.
import { randomBytes } from "node:crypto";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tracing } from "../src/tracing/call-spans.js";
import { ratioBound, ratioKey } from "../src/tracing/trace-ids.js";
import { VALID } from "./support/applications.js";
import { PROTOCOL_CLIENTS, type ProtocolClient } from "./support/protocol-clients.js";
import { sample } from "./support/shape-samples.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const PREDICT = "prediction.v1.PredictionService/Predict";

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** A caller's span: the ids it sends and the traceparent header that carries them. */
function callerSpan(sampled = true) {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, headers: { "x-api-key": API_KEY, traceparent: `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`, tracestate: "caller=1" } };
}

const clientNamed = (name: string) => PROTOCOL_CLIENTS.find((c) => c.name === name)!;
const CLIENTS = ["grpc-js (gRPC, h2c)", "Connect JSON (HTTP/1.1)", "Connect binary (HTTP/1.1)", "gRPC-Web binary (HTTP/1.1)"].map(clientNamed);

describe.each([
  { path: "the unary fast path", FAST_PATH: "1" },
  { path: "connect-node", FAST_PATH: "0" },
])("tracing on $path", ({ FAST_PATH }) => {
  const exporter = new InMemorySpanExporter();
  let server: TestServer;
  let tracing: Tracing;
  beforeAll(async () => {
    // Only calls whose caller samples them are recorded: the others must cost nothing.
    tracing = new Tracing({ sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    server = await startTestServer({ FAST_PATH }, { tracing });
  });
  afterAll(() => server?.close());

  const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const childrenOf = (span: ReadableSpan, name: string) =>
    spansOf(span.spanContext().traceId).filter((s) => s.name === name && s.parentSpanContext?.spanId === span.spanContext().spanId);
  const logLineOf = (requestId: string | undefined) => server.logs.find((l) => l.msg === "call" && l.requestId === requestId);

  describe.each(CLIENTS)("over $name", (factory) => {
    let client: ProtocolClient;
    beforeAll(() => {
      client = factory.make(server.baseUrl);
    });
    afterAll(() => client?.close());

    it("makes the server span a child of the caller's, with the RPC attributes, child spans and trace ids in the log", async () => {
      const caller = callerSpan();
      const r = await client.predict(VALID, { headers: caller.headers });
      expect(r.ok).toBe(true);
      await tracing.forceFlush();
      const [span] = spansOf(caller.traceId).filter((s) => s.name === PREDICT);
      expect(span, "the server span").toBeDefined();
      expect(span.kind).toBe(SpanKind.SERVER);
      expect(span.parentSpanContext?.spanId).toBe(caller.spanId);
      expect(span.spanContext().traceState?.get("caller")).toBe("1");
      const grpc = !factory.name.startsWith("Connect");
      expect(span.attributes).toMatchObject({
        "rpc.system": grpc ? "grpc" : "connect_rpc",
        "rpc.service": "prediction.v1.PredictionService",
        "rpc.method": "Predict",
      });
      if (grpc) expect(span.attributes["rpc.grpc.status_code"]).toBe(0);
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR);

      const [queue] = childrenOf(span, "batch queue");
      expect(queue, "the batch queue span").toBeDefined();
      const [run] = childrenOf(span, "inference");
      expect(run, "the inference span").toBeDefined();
      expect(run.attributes).toMatchObject({ "prediction.model.name": "loan-approval", "prediction.model.version": r.ok ? r.message.modelVersion : "" });
      expect(run.attributes["prediction.batch.size"]).toBeGreaterThanOrEqual(1);
      expect(run.links.map((l) => l.context.spanId)).toContain(span.spanContext().spanId);
      // The wait ends where the run begins, both within the call.
      expect(queue.endTime).toEqual(run.startTime);

      const line = logLineOf(r.requestId);
      expect(line, "the call's log line").toBeDefined();
      expect(line).toMatchObject({ trace_id: caller.traceId, span_id: span.spanContext().spanId });
    });

    it("names the failure's status on the span", async () => {
      const caller = callerSpan();
      const r = await client.predict({ ...VALID, age: 7 }, { headers: caller.headers });
      expect(r.ok).toBe(false);
      await tracing.forceFlush();
      const [span] = spansOf(caller.traceId).filter((s) => s.name === PREDICT);
      expect(span).toBeDefined();
      if (factory.name.startsWith("Connect")) expect(span.attributes["rpc.connect_rpc.error_code"]).toBe("invalid_argument");
      else expect(span.attributes["rpc.grpc.status_code"]).toBe(3);
      // The caller's mistake, not the server's: no error status.
      expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    });
  });

  it("records no span and logs no trace ids for a call that brings no trace and is not sampled", async () => {
    await tracing.forceFlush();
    const before = exporter.getFinishedSpans().length;
    const client = clientNamed("grpc-js (gRPC, h2c)").make(server.baseUrl);
    const r = await client.predict(VALID, { headers: { "x-api-key": API_KEY } });
    client.close();
    expect(r.ok).toBe(true);
    await tracing.forceFlush();
    expect(exporter.getFinishedSpans().length).toBe(before);
    const line = logLineOf(r.requestId);
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty("trace_id");
  });

  it("logs the caller's trace id for a call whose caller did not sample it, and records nothing", async () => {
    const caller = callerSpan(false);
    const client = clientNamed("Connect JSON (HTTP/1.1)").make(server.baseUrl);
    const r = await client.predict(VALID, { headers: caller.headers });
    client.close();
    expect(r.ok).toBe(true);
    await tracing.forceFlush();
    expect(spansOf(caller.traceId)).toEqual([]);
    const line = logLineOf(r.requestId);
    expect(line?.trace_id).toBe(caller.traceId);
    expect(line?.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(line?.span_id).not.toBe(caller.spanId);
  });

  it("links one inference run to every traced call that shares it", async () => {
    const client = clientNamed("grpc-js (gRPC, h2c)").make(server.baseUrl);
    const callers = Array.from({ length: 16 }, () => callerSpan());
    const results = await Promise.all(callers.map((c) => client.predict(VALID, { headers: c.headers })));
    client.close();
    expect(results.every((r) => r.ok)).toBe(true);
    await tracing.forceFlush();
    const serverSpans = callers.map((c) => spansOf(c.traceId).find((s) => s.name === PREDICT)!);
    const runs = new Map<string, ReadableSpan>();
    for (const c of callers) for (const s of spansOf(c.traceId)) if (s.name === "inference") runs.set(s.spanContext().spanId, s);
    // Each call's run links to it, and one run served more than one of them.
    for (const span of serverSpans) {
      const linking = [...runs.values()].filter((run) => run.links.some((l) => l.context.spanId === span.spanContext().spanId));
      expect(linking).toHaveLength(1);
    }
    expect(Math.max(...[...runs.values()].map((run) => run.links.length))).toBeGreaterThan(1);
    for (const run of runs.values()) expect(run.attributes["prediction.batch.calls"]).toBeGreaterThanOrEqual(run.links.length);
  });

  it("shows the image's decode and resize as a child span of ClassifyImage", async () => {
    const caller = callerSpan();
    const s = await sample("circle", 0, "png");
    const client = clientNamed("Connect binary (HTTP/1.1)").make(server.baseUrl);
    const r = await client.classifyImage({ image: s.bytes, contentType: s.contentType }, { headers: caller.headers });
    client.close();
    expect(r.ok).toBe(true);
    await tracing.forceFlush();
    const [span] = spansOf(caller.traceId).filter((x) => x.name === "prediction.v1.PredictionService/ClassifyImage");
    expect(span).toBeDefined();
    expect(childrenOf(span, "image decode and resize")).toHaveLength(1);
    const [run] = childrenOf(span, "inference");
    expect(run?.attributes["prediction.model.name"]).toBe("shapes");
  });
});

describe("tracing at a ratio", () => {
  const exporter = new InMemorySpanExporter();
  // Runs of 4 calls, 4 apart on average: some of 40 calls sampled, some not.
  const tracing = new Tracing({
    sampler: new TraceIdRatioBasedSampler(0.5),
    rootRatio: 0.5,
    rootRunCalls: 4,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({}, { tracing });
  });
  afterAll(() => server?.close());

  it("records exactly the calls it logs with a trace id, as root spans", async () => {
    const client = clientNamed("grpc-js (gRPC, h2c)").make(server.baseUrl);
    const results = await Promise.all(Array.from({ length: 40 }, () => client.predict(VALID, { headers: { "x-api-key": API_KEY } })));
    client.close();
    expect(results.every((r) => r.ok)).toBe(true);
    await tracing.forceFlush();
    const logged = new Set(server.logs.filter((l) => l.msg === "call" && typeof l.trace_id === "string").map((l) => l.trace_id));
    const recorded = exporter.getFinishedSpans().filter((s) => s.name === PREDICT);
    for (const s of recorded) expect(s.parentSpanContext).toBeUndefined();
    expect(new Set(recorded.map((s) => s.spanContext().traceId))).toEqual(logged);
    // Some sampled, some not.
    expect(logged.size).toBeGreaterThan(0);
    expect(logged.size).toBeLessThan(40);
  });
});

describe("a root call's ratio decision from its id's bytes", () => {
  /** A random id whose ratio key is `key`: its last word makes the XOR come out so. */
  const idWithKey = (key: number) => {
    const id = randomBytes(16);
    id.writeUInt32BE(0, 12);
    id.writeUInt32BE((ratioKey(id) ^ key) >>> 0, 12);
    return id;
  };

  it.each([0, 0.01, 0.5, 0.999, 1])("is the SDK's TraceIdRatioBasedSampler decision at %s", (ratio) => {
    const sampler = new TraceIdRatioBasedSampler(ratio);
    const bound = ratioBound(ratio);
    const edges = [0, 1, bound - 1, bound, bound + 1, 0xffffffff].filter((k) => k >= 0 && k <= 0xffffffff).map(idWithKey);
    for (const id of [...edges, ...Array.from({ length: 5000 }, () => randomBytes(16))]) {
      const sdk = sampler.shouldSample(ROOT_CONTEXT, id.toString("hex")).decision;
      expect(ratioKey(id) < bound, id.toString("hex")).toBe(sdk === SamplingDecision.RECORD_AND_SAMPLED);
    }
  });
});

describe("tracing off", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("ignores a traceparent and logs the call as before", async () => {
    const caller = callerSpan();
    const client = clientNamed("grpc-js (gRPC, h2c)").make(server.baseUrl);
    const r = await client.predict(VALID, { headers: caller.headers });
    client.close();
    expect(r.ok).toBe(true);
    const line = server.logs.find((l) => l.msg === "call" && l.requestId === r.requestId);
    expect(line).toBeDefined();
    expect(line).not.toHaveProperty("trace_id");
  });
});
