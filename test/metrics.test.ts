import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { metricsEndpoint } from "../src/metrics/metrics-endpoint.js";
import { ServerMetrics } from "../src/metrics/server-metrics.js";
import { API_KEY, startTestServer } from "./support/test-server.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
  help: Map<string, string>;
}

/** Enough of the Prometheus text format (0.0.4) for these tests. */
function parse(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let m = /^# (TYPE|HELP) (\S+) (.*)$/.exec(line);
    if (m) {
      (m[1] === "TYPE" ? types : help).set(m[2], m[3]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const raw = m[3];
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    samples.push({ name: m[1], labels, value });
  }
  return { samples, types, help };
}

function find(exp: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exp.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The single sample with exactly these labels (besides any not named, which must not exist). */
function value(exp: Exposition, name: string, labels: Record<string, string> = {}): number {
  const hits = exp.samples.filter(
    (s) => s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (hits.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${hits.length}`);
  return hits[0].value;
}

async function scrape(metrics: ServerMetrics): Promise<Exposition> {
  const { body } = await metrics.render();
  return parse(body);
}

const PREDICT = "/prediction.v1.PredictionService/Predict";
const LOAN = { model: "loan-approval", version: "3" };

describe("ServerMetrics", () => {
  it("uses a registry per instance", async () => {
    const a = new ServerMetrics({ collectProcessMetrics: false });
    const b = new ServerMetrics({ collectProcessMetrics: false });
    a.observeCall({ method: PREDICT, protocol: "grpc", code: "OK", key: "", seconds: 0.01 });
    expect(a.registry).not.toBe(b.registry);
    expect(find(await scrape(a), "rpc_server_calls_total")).toHaveLength(1);
    expect(find(await scrape(b), "rpc_server_calls_total")).toHaveLength(0);
  });

  it("counts calls by method, protocol, code and key name and times them by method and protocol", async () => {
    const m = new ServerMetrics({ collectProcessMetrics: false });
    m.observeCall({ method: PREDICT, protocol: "grpc", code: "OK", key: "batch-jobs", seconds: 0.002 });
    m.observeCall({ method: PREDICT, protocol: "grpc", code: "OK", key: "web", seconds: 0.02 });
    m.observeCall({ method: PREDICT, protocol: "grpc", code: "INVALID_ARGUMENT", key: "", seconds: 0.0004 });
    m.observeCall({ method: PREDICT, protocol: "connect", code: "OK", key: "", seconds: 3 });
    m.observeCall({ method: PREDICT, protocol: "grpc-web", code: "UNAVAILABLE", key: "", seconds: 20 });
    const exp = await scrape(m);

    expect(exp.types.get("rpc_server_calls_total")).toBe("counter");
    expect(exp.types.get("rpc_server_call_duration_seconds")).toBe("histogram");
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "grpc", code: "OK", key: "batch-jobs" })).toBe(1);
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "grpc", code: "OK", key: "web" })).toBe(1);
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "grpc", code: "INVALID_ARGUMENT", key: "" })).toBe(1);
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "connect", code: "OK", key: "" })).toBe(1);
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "grpc-web", code: "UNAVAILABLE", key: "" })).toBe(1);

    const grpc = { method: PREDICT, protocol: "grpc" };
    expect(value(exp, "rpc_server_call_duration_seconds_count", grpc)).toBe(3);
    expect(value(exp, "rpc_server_call_duration_seconds_sum", grpc)).toBeCloseTo(0.0224, 10);
    expect(value(exp, "rpc_server_call_duration_seconds_bucket", { ...grpc, le: "0.0005" })).toBe(1);
    expect(value(exp, "rpc_server_call_duration_seconds_bucket", { ...grpc, le: "0.0025" })).toBe(2);
    expect(value(exp, "rpc_server_call_duration_seconds_bucket", { ...grpc, le: "0.025" })).toBe(3);
    expect(value(exp, "rpc_server_call_duration_seconds_bucket", { ...grpc, le: "+Inf" })).toBe(3);

    const les = find(exp, "rpc_server_call_duration_seconds_bucket", grpc).map((s) => s.labels.le);
    expect(les[0]).toBe("0.0005");
    expect(les.at(-2)).toBe("10");
    expect(les.at(-1)).toBe("+Inf");
    // 20 s is beyond the last finite bucket.
    const web = { method: PREDICT, protocol: "grpc-web" };
    expect(value(exp, "rpc_server_call_duration_seconds_bucket", { ...web, le: "10" })).toBe(0);
    expect(value(exp, "rpc_server_call_duration_seconds_bucket", { ...web, le: "+Inf" })).toBe(1);
  });

  it("keeps queue time per request apart from compute time per execution", async () => {
    const m = new ServerMetrics({ collectProcessMetrics: false });
    m.observeBatch({ ...LOAN, rows: 5, queueSeconds: [0.00001, 0.0003, 0.004], computeSeconds: 0.003 });
    m.observeBatch({ ...LOAN, rows: 1, queueSeconds: [0.2], computeSeconds: 0.0008 });
    m.observeBatch({ model: "image", version: "1", rows: 64, queueSeconds: [0.001, 0.001], computeSeconds: 0.09 });
    const exp = await scrape(m);

    for (const name of ["inference_queue_duration_seconds", "inference_compute_duration_seconds", "inference_batch_size"]) {
      expect(exp.types.get(name)).toBe("histogram");
    }
    expect(exp.types.get("inference_requests_total")).toBe("counter");
    expect(exp.types.get("inference_executions_total")).toBe("counter");

    // Queue: one observation per request.
    expect(value(exp, "inference_queue_duration_seconds_count", LOAN)).toBe(4);
    expect(value(exp, "inference_queue_duration_seconds_sum", LOAN)).toBeCloseTo(0.20431, 10);
    expect(value(exp, "inference_queue_duration_seconds_bucket", { ...LOAN, le: "0.00005" })).toBe(1);
    expect(value(exp, "inference_queue_duration_seconds_bucket", { ...LOAN, le: "0.0005" })).toBe(2);
    expect(value(exp, "inference_queue_duration_seconds_bucket", { ...LOAN, le: "0.005" })).toBe(3);
    expect(value(exp, "inference_queue_duration_seconds_bucket", { ...LOAN, le: "0.25" })).toBe(4);
    expect(find(exp, "inference_queue_duration_seconds_bucket", LOAN)[0].labels.le).toBe("0.00005");

    // Compute: one observation per execution.
    expect(value(exp, "inference_compute_duration_seconds_count", LOAN)).toBe(2);
    expect(value(exp, "inference_compute_duration_seconds_sum", LOAN)).toBeCloseTo(0.0038, 10);
    expect(value(exp, "inference_compute_duration_seconds_bucket", { ...LOAN, le: "0.001" })).toBe(1);
    expect(value(exp, "inference_compute_duration_seconds_bucket", { ...LOAN, le: "0.005" })).toBe(2);

    // Batch sizes, rows and executions.
    const les = find(exp, "inference_batch_size_bucket", LOAN).map((s) => s.labels.le);
    expect(les).toEqual(["1", "2", "4", "8", "16", "32", "64", "128", "256", "+Inf"]);
    expect(value(exp, "inference_batch_size_bucket", { ...LOAN, le: "1" })).toBe(1);
    expect(value(exp, "inference_batch_size_bucket", { ...LOAN, le: "4" })).toBe(1);
    expect(value(exp, "inference_batch_size_bucket", { ...LOAN, le: "8" })).toBe(2);
    expect(value(exp, "inference_batch_size_sum", LOAN)).toBe(6);
    expect(value(exp, "inference_requests_total", LOAN)).toBe(6);
    expect(value(exp, "inference_executions_total", LOAN)).toBe(2);

    const image = { model: "image", version: "1" };
    expect(value(exp, "inference_requests_total", image)).toBe(64);
    expect(value(exp, "inference_executions_total", image)).toBe(1);
    expect(value(exp, "inference_batch_size_bucket", { ...image, le: "32" })).toBe(0);
    expect(value(exp, "inference_batch_size_bucket", { ...image, le: "64" })).toBe(1);
    expect(value(exp, "inference_queue_duration_seconds_count", image)).toBe(2);
  });

  it("ignores unusable numbers instead of throwing into the request path", async () => {
    const m = new ServerMetrics({ collectProcessMetrics: false });
    expect(() => m.observeCall({ method: PREDICT, protocol: "grpc", code: "OK", key: "", seconds: Number.NaN })).not.toThrow();
    expect(() => m.observeBatch({ ...LOAN, rows: -1, queueSeconds: [Infinity, -0.001], computeSeconds: Number.NaN })).not.toThrow();
    expect(() => m.setQueueDepth(LOAN.model, LOAN.version, Number.NaN)).not.toThrow();
    const exp = await scrape(m);
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "grpc", code: "OK", key: "" })).toBe(1);
    expect(value(exp, "inference_executions_total", LOAN)).toBe(1);
    expect(value(exp, "inference_queue_duration_seconds_count", LOAN)).toBe(1); // the negative one, clamped to 0
    expect(value(exp, "inference_queue_duration_seconds_sum", LOAN)).toBe(0);
  });

  it("reports queue depth, load failures and shed requests", async () => {
    const m = new ServerMetrics({ collectProcessMetrics: false });
    m.setQueueDepth(LOAN.model, LOAN.version, 12);
    m.setQueueDepth(LOAN.model, LOAN.version, 7);
    m.countLoadFailure("image", "2");
    m.countLoadFailure("image", "2");
    m.countShed(LOAN.model, LOAN.version);
    m.countShed(LOAN.model, LOAN.version);
    m.countShed(LOAN.model, LOAN.version);
    const exp = await scrape(m);
    expect(exp.types.get("inference_queue_depth")).toBe("gauge");
    expect(exp.types.get("model_load_failures_total")).toBe("counter");
    expect(exp.types.get("inference_shed_total")).toBe("counter");
    expect(value(exp, "inference_queue_depth", LOAN)).toBe(7);
    expect(value(exp, "model_load_failures_total", { model: "image", version: "2" })).toBe(2);
    expect(value(exp, "inference_shed_total", LOAN)).toBe(3);
  });

  it("replaces model states wholesale, dropping versions that vanished", async () => {
    const m = new ServerMetrics({ collectProcessMetrics: false });

    let exp = await scrape(m);
    for (const state of ["loading", "ready", "failed", "unloading"]) {
      expect(value(exp, "model_versions", { state })).toBe(0);
    }

    m.setModelStates([
      { model: "loan-approval", version: "2", state: "ready" },
      { model: "loan-approval", version: "3", state: "loading" },
      { model: "image", version: "1", state: "failed" },
    ]);
    m.setQueueDepth("loan-approval", "2", 4);
    exp = await scrape(m);
    expect(exp.types.get("model_versions")).toBe("gauge");
    expect(exp.types.get("model_version_state")).toBe("gauge");
    expect(value(exp, "model_versions", { state: "ready" })).toBe(1);
    expect(value(exp, "model_versions", { state: "loading" })).toBe(1);
    expect(value(exp, "model_versions", { state: "failed" })).toBe(1);
    expect(value(exp, "model_versions", { state: "unloading" })).toBe(0);
    expect(value(exp, "model_version_state", { model: "loan-approval", version: "2", state: "ready" })).toBe(1);
    expect(value(exp, "model_version_state", { model: "loan-approval", version: "2", state: "loading" })).toBe(0);
    expect(value(exp, "model_version_state", { model: "image", version: "1", state: "failed" })).toBe(1);
    // Every version has exactly one state at 1.
    for (const v of [
      ["loan-approval", "2"],
      ["loan-approval", "3"],
      ["image", "1"],
    ]) {
      const series = find(exp, "model_version_state", { model: v[0], version: v[1] });
      expect(series).toHaveLength(4);
      expect(series.reduce((n, s) => n + s.value, 0)).toBe(1);
    }

    // Version 3 became ready, version 2 is unloading, the image model is gone.
    m.setModelStates([
      { model: "loan-approval", version: "2", state: "unloading" },
      { model: "loan-approval", version: "3", state: "ready" },
    ]);
    exp = await scrape(m);
    expect(value(exp, "model_versions", { state: "ready" })).toBe(1);
    expect(value(exp, "model_versions", { state: "unloading" })).toBe(1);
    expect(value(exp, "model_versions", { state: "failed" })).toBe(0);
    expect(value(exp, "model_versions", { state: "loading" })).toBe(0);
    expect(value(exp, "model_version_state", { model: "loan-approval", version: "3", state: "ready" })).toBe(1);
    expect(value(exp, "model_version_state", { model: "loan-approval", version: "3", state: "loading" })).toBe(0);
    expect(value(exp, "model_version_state", { model: "loan-approval", version: "2", state: "unloading" })).toBe(1);
    expect(find(exp, "model_version_state", { model: "image" })).toHaveLength(0);
    expect(value(exp, "inference_queue_depth", { model: "loan-approval", version: "2" })).toBe(4);

    // Version 2 finished unloading: its state and its queue depth drop out.
    m.setModelStates([{ model: "loan-approval", version: "3", state: "ready" }]);
    exp = await scrape(m);
    expect(find(exp, "model_version_state", { version: "2" })).toHaveLength(0);
    expect(find(exp, "inference_queue_depth", { version: "2" })).toHaveLength(0);
    expect(value(exp, "model_versions", { state: "unloading" })).toBe(0);

    m.setModelStates([]);
    exp = await scrape(m);
    expect(find(exp, "model_version_state")).toHaveLength(0);
    expect(find(exp, "model_versions").map((s) => s.value)).toEqual([0, 0, 0, 0]);
  });

  it("has the series alerts read at zero before the first event: per ready version, per key name, per required model", async () => {
    const m = new ServerMetrics({ collectProcessMetrics: false });
    m.setModelStates([
      { model: "loan-approval", version: "3", state: "ready" },
      { model: "loan-approval", version: "4", state: "loading" },
    ]);
    m.expectCalls([PREDICT], ["web", "batch-jobs"]);
    m.setReadyVersions(
      new Map([
        ["loan-approval", 1],
        ["image", 0],
      ]),
    );
    let exp = await scrape(m);
    for (const name of [
      "inference_shed_total",
      "inference_executions_total",
      "inference_requests_total",
      "model_load_failures_total",
      "inference_queue_duration_seconds_count",
      "inference_compute_duration_seconds_count",
    ]) {
      expect(value(exp, name, LOAN), name).toBe(0);
    }
    // A version still loading can fail to load, but sheds nothing yet.
    expect(value(exp, "model_load_failures_total", { model: "loan-approval", version: "4" })).toBe(0);
    expect(find(exp, "inference_shed_total", { version: "4" })).toHaveLength(0);
    for (const protocol of ["grpc", "grpc-web", "connect"]) {
      for (const code of ["OK", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED"]) {
        for (const key of ["web", "batch-jobs"]) expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol, code, key })).toBe(0);
      }
      expect(value(exp, "rpc_server_call_duration_seconds_count", { method: PREDICT, protocol })).toBe(0);
    }
    expect(find(exp, "rpc_server_calls_total")).toHaveLength(3 * 4 * 2);
    expect(exp.types.get("model_ready_versions")).toBe("gauge");
    expect(value(exp, "model_ready_versions", { model: "loan-approval" })).toBe(1);
    expect(value(exp, "model_ready_versions", { model: "image" })).toBe(0);

    // Counting goes on in the same series; a version that is gone drops out of all of them.
    m.observeCall({ method: PREDICT, protocol: "grpc", code: "INTERNAL", key: "web", seconds: 0.001 });
    m.countShed(LOAN.model, LOAN.version);
    m.setModelStates([{ model: "loan-approval", version: "4", state: "ready" }]);
    m.setReadyVersions(new Map([["loan-approval", 1]]));
    exp = await scrape(m);
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "grpc", code: "INTERNAL", key: "web" })).toBe(1);
    expect(find(exp, "rpc_server_calls_total")).toHaveLength(3 * 4 * 2);
    expect(exp.samples.filter((s) => s.labels.version === "3")).toEqual([]);
    expect(value(exp, "inference_shed_total", { model: "loan-approval", version: "4" })).toBe(0);
    expect(find(exp, "model_ready_versions", { model: "image" })).toHaveLength(0);
  });

  it("passes promtool's lint on names: no gauge of the process metrics ends in _total", async () => {
    const exp = await scrape(new ServerMetrics());
    for (const [name, type] of exp.types) if (name.endsWith("_total")) expect(type, name).toBe("counter");
    // The per-type gauges that replace the dropped totals are there.
    expect(exp.types.get("nodejs_active_handles")).toBe("gauge");
    expect(exp.types.has("nodejs_active_handles_total")).toBe(false);
  });

  it("includes process metrics by default, in its own registry", async () => {
    const withProcess = await scrape(new ServerMetrics());
    const second = await scrape(new ServerMetrics());
    for (const exp of [withProcess, second]) {
      expect(value(exp, "process_resident_memory_bytes")).toBeGreaterThan(0);
      expect(value(exp, "process_cpu_seconds_total")).toBeGreaterThanOrEqual(0);
      expect(exp.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
      expect(exp.types.get("nodejs_gc_duration_seconds")).toBe("histogram");
      expect(exp.types.get("rpc_server_calls_total")).toBe("counter");
    }
    const without = await scrape(new ServerMetrics({ collectProcessMetrics: false }));
    expect(without.types.has("process_resident_memory_bytes")).toBe(false);
  });

  it("escapes label values", async () => {
    const m = new ServerMetrics({ collectProcessMetrics: false });
    m.countShed('we"ird\\model', "1\n2");
    const exp = await scrape(m);
    expect(value(exp, "inference_shed_total", { model: 'we"ird\\model', version: "1\n2" })).toBe(1);
  });
});

describe("metricsEndpoint", () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it("serves GET /metrics over node:http and leaves other requests alone", async () => {
    const metrics = new ServerMetrics();
    metrics.observeCall({ method: PREDICT, protocol: "connect", code: "OK", key: "", seconds: 0.004 });
    const endpoint = metricsEndpoint(metrics);
    const handled: Array<[string, boolean]> = [];
    server = http.createServer((req, res) => {
      const took = endpoint(req, res);
      handled.push([`${req.method} ${req.url}`, took]);
      if (!took) {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const exp = parse(await res.text());
    expect(value(exp, "rpc_server_calls_total", { method: PREDICT, protocol: "connect", code: "OK", key: "" })).toBe(1);
    expect(value(exp, "process_resident_memory_bytes")).toBeGreaterThan(0);

    expect((await fetch(`${base}/metrics?debug=1`)).status).toBe(200);
    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");

    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/extra`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: "POST", body: "x" })).status).toBe(404);

    expect(handled).toEqual([
      ["GET /metrics", true],
      ["GET /metrics?debug=1", true],
      ["HEAD /metrics", true],
      ["GET /", false],
      ["GET /metrics/extra", false],
      ["POST /metrics", false],
    ]);
  });

  it("serves GET /metrics over node:http2 compat objects", async () => {
    const metrics = new ServerMetrics({ collectProcessMetrics: false });
    metrics.countShed(LOAN.model, LOAN.version);
    const endpoint = metricsEndpoint(metrics);
    const h2 = http2.createServer((req, res) => {
      if (!endpoint(req, res)) {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
    const get = (path: string) =>
      new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
        const stream = client.request({ ":method": "GET", ":path": path });
        let status = 0;
        let type: string | undefined;
        let body = "";
        stream.on("response", (headers) => {
          status = Number(headers[":status"]);
          type = headers["content-type"] as string | undefined;
        });
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => (body += chunk));
        stream.on("end", () => resolve({ status, type, body }));
        stream.on("error", reject);
      });
    try {
      const ok = await get("/metrics");
      expect(ok.status).toBe(200);
      expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(value(parse(ok.body), "inference_shed_total", LOAN)).toBe(1);
      expect((await get("/other")).status).toBe(404);
    } finally {
      client.close();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    }
  });
});

describe("the server's metrics listener (METRICS_PORT)", () => {
  it("serves GET /metrics on its own port and not on the API port", async () => {
    const server = await startTestServer();
    try {
      expect(server.metricsPort).not.toBe(server.port);
      const call = await fetch(`${server.baseUrl}/prediction.v1.PredictionService/ListModels`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": API_KEY },
        body: "{}",
      });
      expect(call.status).toBe(200);

      const scraped = await fetch(`${server.metricsBaseUrl}/metrics`);
      expect(scraped.status).toBe(200);
      const exp = parse(await scraped.text());
      expect(
        value(exp, "rpc_server_calls_total", { method: "/prediction.v1.PredictionService/ListModels", protocol: "connect", code: "OK", key: "env:0" }),
      ).toBe(1);

      // The API port knows nothing of /metrics, over HTTP/1.1 or HTTP/2.
      const onApi = await fetch(`${server.baseUrl}/metrics`);
      expect(onApi.status).toBe(404);
      expect(await onApi.text()).not.toContain("rpc_server_calls_total");
      const client = http2.connect(server.baseUrl);
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const stream = client.request({ ":method": "GET", ":path": "/metrics" });
          stream.on("response", (h) => resolve(Number(h[":status"])));
          stream.on("error", reject);
          stream.resume();
        });
        expect(status).toBe(404);
      } finally {
        client.close();
      }
      // And the metrics port serves nothing else.
      expect((await fetch(`${server.metricsBaseUrl}/prediction.v1.PredictionService/ListModels`, { method: "POST", body: "{}" })).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
