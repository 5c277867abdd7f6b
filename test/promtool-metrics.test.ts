// A real server's GET /metrics, checked by Prometheus's own linter
// (`promtool check metrics`, Debian's prometheus package, installed by
// scripts/test-prerequisites.sh): right after start, before any call, and
// after calls of every kind, protocol and outcome. Also checks that the
// series the alerts in deploy/monitoring read exist before their first event.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import { formatKeyFile, hashKey } from "../src/policy/key-file.js";
import { VALID } from "./support/applications.js";
import { drain, imageMessages, STREAM_CLIENTS } from "./support/image-streams.js";
import { PROTOCOL_CLIENTS } from "./support/protocol-clients.js";
import { metricValue, parseMetrics, type MetricSample } from "./support/scrape-metrics.js";
import { sample } from "./support/shape-samples.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const AUTH = { "x-api-key": API_KEY };
const method = (name: string) => `/prediction.v1.PredictionService/${name}`;

/** promtool's exit code and what it printed for this exposition text. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (e) => reject(new Error(`cannot run promtool (scripts/test-prerequisites.sh installs Debian's prometheus): ${e.message}`)));
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

async function scrapeText(server: TestServer): Promise<string> {
  const res = await fetch(`${server.metricsBaseUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe("promtool check metrics on a running server's scrape", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("passes right after start, with the alerted series already at zero", async () => {
    const text = await scrapeText(server);
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: "" });

    const samples = parseMetrics(text);
    const calls = samples.filter((s) => s.name === "rpc_server_calls_total");
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((s) => s.value === 0)).toBe(true);
    for (const protocol of ["grpc", "grpc-web", "connect"]) {
      for (const code of ["OK", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED"]) {
        expect(metricValue(samples, "rpc_server_calls_total", { method: method("Predict"), protocol, code, key: "env:0" })).toBe(0);
      }
      expect(metricValue(samples, "rpc_server_call_duration_seconds_count", { method: method("Predict"), protocol })).toBe(0);
    }
    for (const [model, version] of [
      ["loan-approval", "1"],
      ["shapes", "2"],
    ] as const) {
      const labels = { model, version };
      expect(metricValue(samples, "model_ready_versions", { model })).toBe(1);
      expect(metricValue(samples, "model_load_failures_total", labels)).toBe(0);
      expect(metricValue(samples, "inference_shed_total", labels)).toBe(0);
      expect(metricValue(samples, "inference_queue_duration_seconds_count", labels)).toBe(0);
    }
    // Every series name an alert in deploy/monitoring reads, before any call.
    const rules = parse(readFileSync("deploy/monitoring/prediction-server.rules.yaml", "utf8")) as { groups: Array<{ rules: Array<{ expr: string }> }> };
    const read = new Set(rules.groups.flatMap((g) => g.rules).flatMap((r) => [...r.expr.matchAll(/([a-z_:][a-z0-9_:]*)\{/g)].map((m) => m[1]!)));
    expect(read.size).toBeGreaterThanOrEqual(6);
    for (const name of read)
      expect(
        samples.some((s: MetricSample) => s.name === name),
        name,
      ).toBe(true);
  });

  it("passes after calls of every kind, on every protocol, ok and failed", async () => {
    const shape = await sample("circle", 1);
    for (const kind of PROTOCOL_CLIENTS) {
      const c = kind.make(server.baseUrl);
      try {
        expect((await c.predict(VALID, { headers: AUTH })).ok, kind.name).toBe(true);
        expect((await c.predictBatch({ inputs: [VALID, VALID] }, { headers: AUTH })).ok, kind.name).toBe(true);
        expect((await c.classifyImage({ image: shape.bytes, contentType: shape.contentType }, { headers: AUTH })).ok, kind.name).toBe(true);
        expect((await c.predict(VALID)).ok, kind.name).toBe(false); // UNAUTHENTICATED
        expect((await c.predict({ ...VALID, age: -1 }, { headers: AUTH })).ok, kind.name).toBe(false); // INVALID_ARGUMENT
      } finally {
        c.close();
      }
    }
    for (const kind of STREAM_CLIENTS) {
      const { stream, close } = kind.open(server.baseUrl, AUTH);
      try {
        stream.send(...imageMessages("a", shape.bytes, { contentType: shape.contentType }));
        stream.end();
        const { answers } = await drain(stream);
        expect(answers, kind.name).toHaveLength(1);
      } finally {
        close();
      }
    }
    const connect = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1" });
    await createClient(PredictionService, connect).listModels({}, { headers: AUTH });
    await createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl })).check({ service: "" });

    const text = await scrapeText(server);
    const samples = parseMetrics(text);
    expect(metricValue(samples, "rpc_server_calls_total", { method: method("Predict"), protocol: "grpc", code: "UNAUTHENTICATED", key: "" })).toBeGreaterThan(
      0,
    );
    expect(metricValue(samples, "rpc_server_calls_total", { method: method("PredictImage"), protocol: "connect", code: "OK", key: "env:0" })).toBe(1);
    expect(await promtoolCheck(text)).toEqual({ code: 0, output: "" });
  });

  it("fails on what the linter rejects, so a pass above means something", async () => {
    const bad = "# HELP queue_items_total Items queued.\n# TYPE queue_items_total gauge\nqueue_items_total 3\n";
    const result = await promtoolCheck(bad);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('non-counter metrics should not have "_total" suffix');
  });
});

describe("call series of API keys from API_KEYS_FILE", () => {
  it("exist at zero for each key in the file, and for a key added later once the file is reloaded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "metrics-keys-"));
    const file = join(dir, "keys.json");
    const entry = (name: string) => ({ name, sha256: hashKey(`${name}-secret`), created: new Date().toISOString() });
    writeFileSync(file, formatKeyFile([entry("alpha")]));
    const server = await startTestServer({ API_KEYS: "", API_KEYS_FILE: file });
    const internal = (key: string) => ({ method: method("PredictBatch"), protocol: "grpc-web", code: "INTERNAL", key });
    try {
      let samples = parseMetrics(await scrapeText(server));
      expect(metricValue(samples, "rpc_server_calls_total", internal("alpha"))).toBe(0);
      expect(samples.filter((s) => s.name === "rpc_server_calls_total" && s.labels.key === "beta")).toEqual([]);

      writeFileSync(file, formatKeyFile([entry("alpha"), entry("beta")]));
      server.reloadKeys();
      samples = parseMetrics(await scrapeText(server));
      expect(metricValue(samples, "rpc_server_calls_total", internal("beta"))).toBe(0);
      expect(metricValue(samples, "rpc_server_calls_total", internal("alpha"))).toBe(0);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
