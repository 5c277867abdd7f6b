// Starting up: with no model, a corrupt model and the shipped one (in
// process), and `npm start` as an operator runs it (child process): the
// generated API key, graceful SIGTERM, configuration errors, key files.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { PredictionService, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { formatKeyFile, hashKey } from "../src/policy/key-file.js";
import { VALID } from "./support/applications.js";
import { HEALTH_CHECK_PATH, looksLikeStackTrace, postRaw, predictJson, PREDICT_PATH, VALID_JSON } from "./support/connect-json.js";
import { freePort } from "./support/free-port.js";
import { metricValue, parseMetrics } from "./support/scrape-metrics.js";
import { grpcJsClient } from "./support/grpc-js-client.js";
import { emptyRepository, GARBAGE_MODEL, repositoryWithModel, type TempRepo } from "./support/model-repos.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";
import { killChildren, REPO_ROOT, run, withTimeout, type Child } from "./support/server-process.js";

const PREDICTION = PredictionService.typeName;
const LEVEL_ERROR = 50;

function healthOverGrpc(client: ReturnType<typeof grpcJsClient>, service: string) {
  return client.unary(Health.method.check, create(HealthCheckRequestSchema, { service }));
}

// ---------------------------------------------------------------------------
// A model that cannot be loaded: the server must come up anyway and say so.
// ---------------------------------------------------------------------------

function describeUnloadableModel(title: string, makeRepo: () => TempRepo, expectedPath: (repo: TempRepo) => string) {
  describe(title, () => {
    let repo: TempRepo;
    let server: TestServer;
    let grpcClient: ReturnType<typeof grpcJsClient>;

    beforeAll(async () => {
      repo = makeRepo();
      server = await startTestServer({ MODEL_REPOSITORY: repo.dir });
      grpcClient = grpcJsClient(`127.0.0.1:${server.port}`);
    });
    afterAll(async () => {
      grpcClient?.close();
      await server?.close();
      repo?.remove();
    });

    it("still starts, and Health Check says NOT_SERVING for the server and the service", async () => {
      for (const service of ["", PREDICTION]) {
        const r = await healthOverGrpc(grpcClient, service);
        expect(r.error, `Check("${service}")`).toBeUndefined();
        expect(r.message?.status, `Check("${service}")`).toBe(Serving.NOT_SERVING);
      }
      // Not ready, but alive: a restart would not bring the model back.
      const live = await healthOverGrpc(grpcClient, "liveness");
      expect(live.message?.status).toBe(Serving.SERVING);
    });

    it("answers Predict over gRPC (grpc-js) with UNAVAILABLE, without filesystem detail", async () => {
      const r = await grpcClient.unary(PredictionService.method.predict, create(PredictRequestSchema, VALID), {
        metadata: { "x-api-key": API_KEY },
      });
      expect(r.message).toBeUndefined();
      expect(r.error?.code).toBe(Code.Unavailable);
      expect(r.error?.details).not.toContain(repo.dir);
      expect(looksLikeStackTrace(r.error?.details ?? "")).toBe(false);
    });

    it("answers Predict over Connect JSON with HTTP 503 and code unavailable", async () => {
      const r = await predictJson(server.baseUrl, { "x-api-key": API_KEY });
      expect(r.status).toBe(503);
      expect(r.json?.code).toBe("unavailable");
      expect(r.text).not.toContain(repo.dir);
    });

    it("logs, at level error, a line naming the path it could not load", () => {
      const errors = server.logs.filter((l) => l.level === LEVEL_ERROR);
      const line = errors.find((l) => l.path === expectedPath(repo));
      expect(line, `error lines: ${JSON.stringify(errors)}`).toBeDefined();
      expect(line?.model).toBe("loan-approval");
      expect(String(line?.reason)).not.toBe("");
    });

    it("keeps answering health afterwards (gRPC and Connect), still NOT_SERVING", async () => {
      for (let i = 0; i < 3; i++) {
        const g = await healthOverGrpc(grpcClient, "");
        expect(g.message?.status).toBe(Serving.NOT_SERVING);
        const c = await postRaw(server.baseUrl, HEALTH_CHECK_PATH, JSON.stringify({ service: PREDICTION }));
        expect(c.status).toBe(200);
        expect(c.json?.status).toBe("NOT_SERVING");
      }
    });
  });
}

describeUnloadableModel("model missing (MODEL_REPOSITORY is an empty directory)", emptyRepository, (repo) => `${repo.dir}/loan-approval`);

describeUnloadableModel(
  "corrupt model (loan-approval/1/model.onnx is garbage)",
  () => repositoryWithModel(GARBAGE_MODEL, "pred-corrupt-repo-"),
  (repo) => repo.modelPath,
);

describe("the shipped model", () => {
  let server: TestServer;
  let grpcClient: ReturnType<typeof grpcJsClient>;
  beforeAll(async () => {
    server = await startTestServer();
    grpcClient = grpcJsClient(`127.0.0.1:${server.port}`);
  });
  afterAll(async () => {
    grpcClient?.close();
    await server?.close();
  });

  it("loads, and Health Check says SERVING for the server and the service", async () => {
    for (const service of ["", PREDICTION]) {
      const r = await healthOverGrpc(grpcClient, service);
      expect(r.message?.status, `Check("${service}")`).toBe(Serving.SERVING);
    }
    expect(server.logs.filter((l) => l.level === LEVEL_ERROR)).toEqual([]);
    const loaded = server.logs.find((l) => typeof l.path === "string" && /loan-approval\/1\/model\.onnx$/.test(l.path));
    expect(loaded, JSON.stringify(server.logs)).toBeDefined();
  });
});

// ---------------------------------------------------------------------------
// The real entry point, as a child process.
// ---------------------------------------------------------------------------

afterEach(killChildren);

/**
 * The child's stdout log lines so far, parsed. Read while the server writes:
 * only whole lines (logs go out in batches, up to 100 ms late, and a batch may
 * have arrived in part).
 */
function logLines(child: Child): Array<Record<string, unknown>> {
  return child
    .stdout()
    .split("\n")
    .slice(0, -1)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** One HTTP/1.1 request on a connection of its own (no keep-alive pool), so node:cluster may hand it to any process. */
function onNewConnection(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? "GET", headers: init.headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

// `npm start` runs `node dist/src/main.js`, the build that `npm ci` makes
// (the prepare script). Node is run directly rather than through npm: npm
// does not pass SIGTERM on to the script it runs (it dies of the signal and
// leaves the server running as an orphan), so a signal sent to npm would test
// npm, not the server. The build is made fresh here, from the sources under test.
beforeAll(() => {
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: REPO_ROOT });
}, 60_000);

describe("npm start (node dist/src/main.js) with no API key configured", () => {
  it("logs one generated key once, accepts it, refuses calls without it, and exits 0 on SIGTERM", { timeout: 120_000 }, async () => {
    const port = await freePort();
    const child = run(process.execPath, ["dist/src/main.js"], { PORT: String(port), METRICS_PORT: String(await freePort()), HOST: "127.0.0.1" });
    const baseUrl = `http://127.0.0.1:${port}`;
    await child.waitUntilServing(baseUrl, 60_000);

    // Every stdout line is a JSON log line.
    const keyLinesNow = () => logLines(child).filter((l) => "generatedApiKey" in l);
    await withTimeout(
      (async () => {
        while (keyLinesNow().length === 0) await new Promise((r) => setTimeout(r, 50));
      })(),
      10_000,
      "the generated key's log line",
    );
    const keyLines = keyLinesNow();
    expect(keyLines).toHaveLength(1);
    const key = String(keyLines[0].generatedApiKey);
    expect(key.length).toBeGreaterThanOrEqual(16);

    const ok = await predictJson(baseUrl, { "x-api-key": key });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json?.decision).toMatch(/^DECISION_(APPROVED|DENIED)$/);
    const bearer = await predictJson(baseUrl, { authorization: `Bearer ${key}` });
    expect(bearer.status, bearer.text).toBe(200);

    const none = await predictJson(baseUrl, {});
    expect(none.status).toBe(401);
    expect(none.json?.code).toBe("unauthenticated");
    const wrong = await predictJson(baseUrl, { "x-api-key": `${key}x` });
    expect(wrong.status).toBe(401);
    // A failing call with the right key: its log line carries an error message.
    const invalid = await predictJson(baseUrl, { "x-api-key": key }, JSON.stringify({ age: 5 }));
    expect(invalid.status).toBe(400);

    const t0 = Date.now();
    child.proc.kill("SIGTERM");
    const { code, signal } = await withTimeout(child.exited, 15_000, "exit after SIGTERM");
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(15_000);

    const out = child.stdout();
    expect(out).toMatch(/"msg":"shutting down"/);
    expect(out).toMatch(/"msg":"stopped"/);
    // Five calls were logged, none with the key in it; the key is written exactly once, anywhere.
    const predictCalls = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === "call" && l.method === "/prediction.v1.PredictionService/Predict");
    // Sorted: with WORKERS = CPUs, two processes each write their (buffered) log lines, so lines interleave by process.
    expect(predictCalls.map((l) => l.code).sort(), out).toEqual(["INVALID_ARGUMENT", "OK", "OK", "UNAUTHENTICATED", "UNAUTHENTICATED"]);
    const everything = out + child.stderr();
    expect(everything.split(key).length - 1).toBe(1);
  });
});

describe("configuration errors", () => {
  it("exits non-zero, naming the file, when API_KEYS_FILE does not exist", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pred-keys-"));
    const missing = join(dir, "no-such-keys.txt");
    try {
      const port = await freePort();
      const child = run("npx", ["tsx", "src/main.ts"], { PORT: String(port), HOST: "127.0.0.1", API_KEYS_FILE: missing });
      const { code } = await withTimeout(child.exited, 45_000, "exit on a config error");
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(child.stderr()).toContain(missing);
      expect(child.stderr()).toMatch(/API_KEYS_FILE/);
      expect(child.stdout()).not.toMatch(/listening/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("refuses an API_KEYS_FILE that breaks the format, naming the file and the line or field", () => {
    const dir = mkdtempSync(join(tmpdir(), "pred-keys-"));
    const file = join(dir, "keys.json");
    const refused = (text: string, where: RegExp) => {
      writeFileSync(file, text);
      expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(ConfigError);
      expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(file);
      expect(() => loadConfig({ API_KEYS_FILE: file })).toThrow(where);
    };
    try {
      // The old format, one plaintext key per line.
      refused("# keys for the payments team\nfile-key-one\n", /not valid JSON at line 1, column 1/);
      refused(formatKeyFile([]), /holds no key/);
      refused(
        formatKeyFile([{ name: "ops", sha256: hashKey("k"), methods: ["Train"], created: new Date().toISOString() }]),
        /keys\[0\]\.methods \(key 'ops'\): "Train" is not a method/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("connection limits and ports", () => {
  it("has a safe default for each", () => {
    const c = loadConfig({});
    expect(c.metricsPort).toBe(9464);
    expect(c.limits).toEqual({ idleTimeoutMs: 300_000, maxConcurrentStreams: 100, maxHeaderBytes: 16_384, maxHeaders: 100 });
    expect(c.maxDeadlineMs).toBe(600_000);
    expect(c.images.streamMaxMs).toBe(600_000);
  });

  it.each([
    ["METRICS_PORT", "65536"],
    ["IDLE_TIMEOUT_MS", "0"],
    ["IDLE_TIMEOUT_MS", "5m"],
    ["MAX_CONCURRENT_STREAMS", "0"],
    ["MAX_HEADER_BYTES", "100"],
    ["MAX_HEADERS", "4"],
    ["MAX_DEADLINE_MS", "100000000"],
    ["IMAGE_STREAM_MAX_MS", "-1"],
  ])("refuses %s=%s, naming the setting", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });

  it("refuses TLS_CLIENT_CA_FILE without TLS", () => {
    expect(() => loadConfig({ TLS_CLIENT_CA_FILE: "/dev/null" })).toThrow(/TLS_CLIENT_CA_FILE needs TLS/);
  });
});

describe("API_KEYS_FILE with hashed keys", () => {
  let dir: string;
  let server: TestServer;
  const created = new Date().toISOString();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "pred-keys-"));
    const file = join(dir, "keys.json");
    writeFileSync(
      file,
      formatKeyFile([
        { name: "payments", sha256: hashKey("file-key-one"), created },
        { name: "reports", sha256: hashKey("file-key-two"), created },
      ]),
    );
    // API_KEYS empty: only the file's keys count.
    server = await startTestServer({ API_KEYS: "", API_KEYS_FILE: file });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("accepts every key in the file and logs each call with its key's name", async () => {
    for (const [key, name] of [
      ["file-key-one", "payments"],
      ["file-key-two", "reports"],
    ]) {
      const r = await predictJson(server.baseUrl, { "x-api-key": key });
      expect(r.status, `${key}: ${r.text}`).toBe(200);
      const line = server.logs.find((l) => l.msg === "call" && l.requestId === r.headers.get("x-request-id"));
      expect(line?.key).toBe(name);
    }
  });

  it("refuses a digest sent as the key, names, and keys not in the file", async () => {
    for (const key of [hashKey("file-key-one"), "payments", API_KEY]) {
      const r = await predictJson(server.baseUrl, { "x-api-key": key });
      expect(r.status, key).toBe(401);
    }
  });

  it("never writes the keys or their digests to the log", () => {
    for (const secret of ["file-key-one", "file-key-two", hashKey("file-key-one"), hashKey("file-key-two")]) expect(server.rawLogs()).not.toContain(secret);
  });
});

describe("WORKERS=2: several server processes on one port", () => {
  it("serves from two processes, replaces one that dies, and stops them all on SIGTERM", { timeout: 120_000 }, async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "pred-keys-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const keyFile = join(dir, "keys.json");
    writeFileSync(keyFile, formatKeyFile([{ name: "ops", sha256: hashKey("ops-key"), created: new Date().toISOString() }]));
    const child = run(process.execPath, ["dist/src/main.js"], {
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      HOST: "127.0.0.1",
      WORKERS: "2",
      API_KEYS: API_KEY,
      API_KEYS_FILE: keyFile,
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    const listening = () => logLines(child).filter((l) => l.msg === "listening (gRPC, gRPC-Web, Connect)");
    await child.waitUntilServing(baseUrl, 60_000);
    await withTimeout(
      (async () => {
        while (listening().length < 2) await new Promise((r) => setTimeout(r, 100));
      })(),
      30_000,
      "both processes listening",
    );
    const pids = listening().map((l) => Number(l.pid));
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(child.proc.pid);
    // Each call and each scrape on a connection of its own: node:cluster hands them to the two processes in turn.
    for (let i = 0; i < 10; i++) {
      const r = await onNewConnection(`${baseUrl}${PREDICT_PATH}`, {
        method: "POST",
        body: VALID_JSON,
        headers: { "content-type": "application/json", "x-api-key": API_KEY },
      });
      expect(r.status).toBe(200);
    }
    // The API port does not serve metrics.
    expect((await onNewConnection(`${baseUrl}/metrics`)).status).toBe(404);
    // A scrape reaches one process and answers for both: the calls of both counted, whichever answers;
    // the model gauges (both processes load the same models) not doubled.
    for (let i = 0; i < 4; i++) {
      const samples = parseMetrics((await onNewConnection(`http://127.0.0.1:${metricsPort}/metrics`)).text);
      // API_KEY is the first of API_KEYS: key name env:0 (every key name has its series, at zero until used).
      const predicts = { method: "/prediction.v1.PredictionService/Predict", protocol: "connect", code: "OK", key: "env:0" };
      expect(metricValue(samples, "rpc_server_calls_total", predicts)).toBe(10);
      expect(metricValue(samples, "rpc_server_call_duration_seconds_count", { method: predicts.method, protocol: "connect" })).toBe(10);
      expect(metricValue(samples, "model_versions", { state: "ready" })).toBe(2);
    }

    // SIGHUP to the primary: each process re-reads the key file, and none stops.
    child.proc.kill("SIGHUP");
    const reloads = () => logLines(child).filter((l) => l.msg === "API keys reloaded" && l.reason === "SIGHUP");
    await withTimeout(
      (async () => {
        while (reloads().length < 2) await new Promise((r) => setTimeout(r, 100));
      })(),
      10_000,
      "both processes reloading their keys",
    );
    expect(new Set(reloads().map((l) => Number(l.pid)))).toEqual(new Set(pids));
    expect(reloads()[0].keys).toEqual(["env:0", "ops"]);
    expect((await predictJson(baseUrl, { "x-api-key": "ops-key" })).status).toBe(200);

    // One process dies: the primary starts another, and the port keeps answering.
    process.kill(pids[0], "SIGKILL");
    await withTimeout(
      (async () => {
        while (listening().length < 3) await new Promise((r) => setTimeout(r, 100));
      })(),
      30_000,
      "a replacement process",
    );
    expect(child.stdout()).toContain("server process exited; starting another");
    await child.waitUntilServing(baseUrl, 30_000);
    expect((await predictJson(baseUrl, { "x-api-key": API_KEY })).status).toBe(200);

    child.proc.kill("SIGTERM");
    const exit = await withTimeout(child.exited, 20_000, "exit after SIGTERM");
    expect(exit.code).toBe(0);
    expect(child.stdout()).toContain("all server processes stopped");
  });
});
