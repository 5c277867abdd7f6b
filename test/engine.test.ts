// The model server's engine through the real server: versions, pinning,
// metadata, hot reload under load, a broken version, and dynamic batching.
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus as Serving, Health } from "../gen/grpc/health/v1/health_pb.js";
import { ModelVersionState, PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import { applications, VALID } from "./support/applications.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const headers = { "x-api-key": API_KEY };
const SHIPPED = "models/loan-approval";
const LEVEL_ERROR = 50;

/** A repository holding a copy of the shipped loan model as version 1, and the default image model (readiness needs both). */
function tempRepository(): string {
  const root = mkdtempSync(join(tmpdir(), "engine-repo-"));
  cpSync(SHIPPED, join(root, "loan-approval"), { recursive: true });
  cpSync("models/shapes", join(root, "shapes"), { recursive: true });
  return root;
}

/** A model the API does not use, whose only version cannot load. */
function addBrokenModel(root: string, name: string): void {
  cpSync(join(SHIPPED, "config.json"), join(root, name, "config.json"));
  cpSync(join(SHIPPED, "1"), join(root, name, "1"), { recursive: true });
  writeFileSync(join(root, name, "1", "model.onnx"), "definitely not onnx");
}

/** Adds a version the way an operator should: write elsewhere, then rename into place. */
function addVersion(root: string, version: string, model?: Buffer): void {
  const staging = join(root, `.staging-${version}`);
  cpSync(join(SHIPPED, "1"), staging, { recursive: true });
  if (model) writeFileSync(join(staging, "model.onnx"), model);
  renameSync(staging, join(root, "loan-approval", version));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("versions, pinning and metadata", () => {
  let server: TestServer;
  let root: string;
  beforeAll(async () => {
    root = tempRepository();
    addVersion(root, "2");
    server = await startTestServer({ MODEL_REPOSITORY: root, MODEL_POLL_INTERVAL_MS: "0" });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });
  const client = () => createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));

  it("serves the highest version by default, and a pinned one on request", async () => {
    const c = client();
    expect((await c.predict(VALID, { headers })).modelVersion).toBe("2");
    expect((await c.predict({ ...VALID, modelVersion: "1" }, { headers })).modelVersion).toBe("1");
    const batch = await c.predictBatch({ inputs: applications(3), modelVersion: "1" }, { headers });
    expect(batch.predictions.map((p) => p.modelVersion)).toEqual(["1", "1", "1"]);
  });

  it("answers NOT_FOUND for an unknown version, and refuses a pin inside a batch", async () => {
    const c = client();
    await expect(c.predict({ ...VALID, modelVersion: "9" }, { headers })).rejects.toMatchObject({ code: Code.NotFound });
    const inputs = applications(2).map((a, i) => ({ ...a, modelVersion: i === 1 ? "1" : "" }));
    const err = await c.predictBatch({ inputs }, { headers }).catch((e) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as ConnectError).rawMessage).toContain("inputs[1].model_version");
  });

  it("lists models and describes one, with tensors, states and the model card's metrics", async () => {
    const c = client();
    const list = await c.listModels({}, { headers });
    const loan = list.models.find((m) => m.name === "loan-approval")!;
    expect(loan.defaultVersion).toBe("2");
    expect(loan.versions.map((v) => [v.version, v.state])).toEqual([
      ["2", ModelVersionState.READY],
      ["1", ModelVersionState.READY],
    ]);
    expect(list.metadata.map((m) => [m.model?.name, m.model?.defaultVersion])).toEqual(list.models.map((m) => [m.name, m.defaultVersion]));
    const meta = await c.getModelMetadata({ name: "loan-approval" }, { headers });
    expect(meta.requestMessage).toBe("prediction.v1.PredictRequest");
    expect(meta.inputs.map((t) => [t.name, t.dtype, t.shape.map(Number)])).toEqual([["features", "float32", [-1, 9]]]);
    expect(meta.outputs.map((t) => t.name)).toEqual(["approval_probability", "contributions"]);
    expect(meta.metrics.test_roc_auc).toBeGreaterThan(0.8);
    await expect(c.getModelMetadata({ name: "nope" }, { headers })).rejects.toMatchObject({ code: Code.NotFound });
    await expect(c.getModelMetadata({ name: "" }, { headers })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(c.listModels({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });
});

describe("hot reload", () => {
  let server: TestServer;
  let root: string;
  beforeAll(async () => {
    root = tempRepository();
    server = await startTestServer({ MODEL_REPOSITORY: root, MODEL_POLL_INTERVAL_MS: "200" });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });
  const client = () => createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
  const health = () => createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));

  it("switches to a new version under a steady stream of calls without one failing, then unloads the removed one", async () => {
    const c = client();
    const seen: string[] = [];
    const failures: unknown[] = [];
    let stop = false;
    const streams = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          seen.push((await c.predict(VALID, { headers })).modelVersion);
        } catch (e) {
          failures.push(e);
        }
      }
    });
    await waitFor("calls on version 1", async () => (seen.length > 20 ? true : undefined));
    addVersion(root, "2");
    const switchedAt = Date.now();
    await waitFor("version 2 to answer", async () => (seen.at(-1) === "2" ? true : undefined), 10_000);
    const switchMs = Date.now() - switchedAt;
    // Remove version 1 while calls keep coming: it drains and disappears.
    rmSync(join(root, "loan-approval", "1"), { recursive: true, force: true });
    await waitFor("version 1 to be unloaded", async () => {
      const loan = (await c.listModels({}, { headers })).models.find((m) => m.name === "loan-approval")!;
      return loan.versions.map((v) => v.version).join() === "2" ? true : undefined;
    });
    const afterRemoval = seen.length;
    await waitFor("more calls after removal", async () => (seen.length > afterRemoval + 20 ? true : undefined));
    stop = true;
    await Promise.all(streams);
    expect(failures).toEqual([]);
    expect(switchMs).toBeLessThan(10_000);
    expect(seen.lastIndexOf("1")).toBeLessThan(seen.indexOf("2") + 50);
    expect((await health().check({ service: "" })).status).toBe(Serving.SERVING);
  });

  it("reports a broken new version as FAILED, counts it, and keeps serving the old one", async () => {
    const c = client();
    const before = (await c.predict(VALID, { headers })).modelVersion;
    addVersion(root, "7", Buffer.from("definitely not onnx"));
    const v7 = await waitFor("version 7 to fail", async () => {
      const loan = (await c.listModels({}, { headers })).models.find((m) => m.name === "loan-approval")!;
      return loan.versions.find((v) => v.version === "7" && v.state === ModelVersionState.FAILED);
    });
    // The reason without the server's paths; the log line has the whole error.
    expect(v7.error).toContain("model.onnx");
    expect(v7.error).not.toContain(root);
    expect(v7.error).not.toContain(join("7", "model.onnx"));
    const logged = server.logs.find((l) => l.level === LEVEL_ERROR && l.version === "7" && l.msg === "model version failed to load");
    expect(String(logged?.error)).toContain(join(root, "loan-approval", "7", "model.onnx"));
    expect((await c.predict(VALID, { headers })).modelVersion).toBe(before);
    expect((await health().check({ service: "" })).status).toBe(Serving.SERVING);
    const metrics = await (await fetch(`${server.metricsBaseUrl}/metrics`)).text();
    expect(metrics).toMatch(/model_load_failures_total\{model="loan-approval",version="7"\} 1/);
    expect(metrics).toMatch(/model_version_state\{model="loan-approval",version="7",state="failed"\} 1/);
  });
});

describe("a broken model the API does not use", () => {
  let server: TestServer;
  let root: string;
  beforeAll(async () => {
    root = tempRepository();
    addBrokenModel(root, "broken-extra");
    server = await startTestServer({ MODEL_REPOSITORY: root, MODEL_POLL_INTERVAL_MS: "0" });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("leaves readiness and liveness SERVING, and shows FAILED in ListModels, metrics and the log, without paths to clients", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }));
    for (const service of ["", PredictionService.typeName, "liveness"]) {
      expect((await health.check({ service })).status, `Check("${service}")`).toBe(Serving.SERVING);
    }
    const c = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const broken = (await c.listModels({}, { headers })).models.find((m) => m.name === "broken-extra")!;
    expect(broken.versions.map((v) => v.state)).toEqual([ModelVersionState.FAILED]);
    const meta = await c.getModelMetadata({ name: "broken-extra" }, { headers });
    for (const error of [broken.versions[0]!.error, meta.model!.versions[0]!.error]) {
      expect(error).not.toBe("");
      expect(error).not.toContain(root);
      expect(error).not.toMatch(/[\\/]/);
    }
    const metrics = await (await fetch(`${server.metricsBaseUrl}/metrics`)).text();
    expect(metrics).toMatch(/model_version_state\{model="broken-extra",version="1",state="failed"\} 1/);
    expect(metrics).toMatch(/model_load_failures_total\{model="broken-extra",version="1"\} 1/);
    const logged = server.logs.find((l) => l.level === LEVEL_ERROR && l.model === "broken-extra");
    expect(String(logged?.path)).toBe(join(root, "broken-extra", "1", "model.onnx"));
    expect((await c.predict(VALID, { headers })).modelVersion).toBe("1");
  });
});

describe("dynamic batching through the server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("coalesces 64 concurrent Predict calls into batches, and every answer equals the unbatched one", async () => {
    const c = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const inputs = applications(64);
    const alone: number[] = [];
    for (const input of inputs) alone.push((await c.predict(input, { headers })).approvalProbability);
    const sizeCount = async () => {
      const text = await (await fetch(`${server.metricsBaseUrl}/metrics`)).text();
      const bucket = (le: string) =>
        Number(new RegExp(`inference_batch_size_bucket\\{le="${le}",model="loan-approval",version="1"\\} (\\d+)`).exec(text)?.[1] ?? "0");
      return { single: bucket("1"), all: bucket("\\+Inf") };
    };
    const before = await sizeCount();
    const together = await Promise.all(inputs.map((input) => c.predict(input, { headers })));
    const after = await sizeCount();
    for (const [i, r] of together.entries()) expect(Math.abs(r.approvalProbability - alone[i])).toBeLessThanOrEqual(1e-6);
    const executions = after.all - before.all;
    const singles = after.single - before.single;
    // Fewer executions than calls means some ran together.
    expect(executions).toBeLessThan(64);
    expect(executions - singles).toBeGreaterThan(0);
  });

  it("gives a row the same answer alone and inside a mixed batch of 64", async () => {
    const c = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const inputs = applications(64);
    const batch = await c.predictBatch({ inputs }, { headers });
    for (const i of [0, 17, 42, 63]) {
      const single = await c.predict(inputs[i], { headers });
      expect(Math.abs(batch.predictions[i].approvalProbability - single.approvalProbability)).toBeLessThanOrEqual(1e-6);
      expect(batch.predictions[i].factors).toEqual(single.factors);
    }
  });
});

describe("a batch larger than the model's max_batch_size", () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = tempRepository();
    const configPath = join(dir, "loan-approval", "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    config.batching = { ...config.batching, max_batch_size: 8 };
    writeFileSync(configPath, JSON.stringify(config));
    server = await startTestServer({ MODEL_REPOSITORY: dir });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs in chunks of at most max_batch_size and answers every row in input order", async () => {
    const c = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
    const inputs = applications(30);
    const batch = await c.predictBatch({ inputs }, { headers });
    expect(batch.predictions).toHaveLength(30);
    const singles = await Promise.all(inputs.map((input) => c.predict(input, { headers })));
    batch.predictions.forEach((p, i) => {
      expect(Math.abs(p.approvalProbability - singles[i].approvalProbability)).toBeLessThanOrEqual(1e-6);
      expect(p.factors).toEqual(singles[i].factors);
    });
    // 30 rows in chunks of 8: four runs at least, none over 8 rows.
    const text = await (await fetch(`${server.metricsBaseUrl}/metrics`)).text();
    const bucket = (le: string) =>
      Number(new RegExp(`inference_batch_size_bucket\\{le="${le}",model="loan-approval",version="1"\\} (\\d+)`).exec(text)?.[1] ?? "NaN");
    expect(bucket("\\+Inf")).toBeGreaterThanOrEqual(4);
    expect(bucket("8")).toBe(bucket("\\+Inf"));
  });
});
