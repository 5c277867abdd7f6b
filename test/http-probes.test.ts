// GET /healthz and /readyz, for load balancers that cannot speak gRPC: open,
// terse, and agreeing with grpc.health (liveness and "") on a live server.
// Also the NO_SIDE_EFFECTS methods, callable with a Connect GET.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { PredictionService, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { inputFieldsFromRules } from "./support/input-rules.js";
import { emptyRepository, type TempRepo } from "./support/model-repos.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

async function probe(baseUrl: string, path: string, method = "GET") {
  const res = await fetch(baseUrl + path, { method });
  return { status: res.status, type: res.headers.get("content-type"), cache: res.headers.get("cache-control"), text: await res.text() };
}

const grpcHealth = (baseUrl: string, service: string) =>
  createClient(Health, createConnectTransport({ baseUrl, httpVersion: "1.1" }))
    .check({ service })
    .then((r) => r.status);

describe("a ready server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("answers GET /healthz and /readyz 200 SERVING, without a key, in plain text", async () => {
    for (const path of ["/healthz", "/readyz", "/readyz?verbose=1"]) {
      const r = await probe(server.baseUrl, path);
      expect(r, path).toEqual({ status: 200, type: "text/plain; charset=utf-8", cache: "no-store", text: "SERVING\n" });
    }
    expect(await grpcHealth(server.baseUrl, "")).toBe(Serving.SERVING);
  });

  it("answers HEAD with the status and no body, and refuses other methods with 405", async () => {
    expect(await probe(server.baseUrl, "/readyz", "HEAD")).toMatchObject({ status: 200, text: "" });
    const post = await fetch(`${server.baseUrl}/healthz`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });

  it("serves ListModels and GetModelMetadata to a Connect GET (NO_SIDE_EFFECTS)", async () => {
    const client = createClient(PredictionService, createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "1.1", useHttpGet: true }));
    const headers = { "x-api-key": API_KEY };
    const models = await client.listModels({}, { headers });
    expect(models.models.map((m) => m.name)).toContain("loan-approval");
    const meta = await client.getModelMetadata({ name: "loan-approval" }, { headers });
    expect(meta.model?.name).toBe("loan-approval");
    // And the GET is really a GET, with the message in the query.
    const message = encodeURIComponent(JSON.stringify({ name: "loan-approval" }));
    const raw = await fetch(`${server.baseUrl}/prediction.v1.PredictionService/GetModelMetadata?connect=v1&encoding=json&message=${message}`, { headers });
    expect(raw.status).toBe(200);
    const body = (await raw.json()) as { model: { name: string }; inputFields: unknown[]; headlineMetrics: string[] };
    expect(body.model.name).toBe("loan-approval");
    expect(body.inputFields).toEqual(inputFieldsFromRules(PredictRequestSchema));
    expect(body.headlineMetrics).toEqual(["test_accuracy", "test_roc_auc", "test_calibration_error"]);
    const keyless = await fetch(`${server.baseUrl}/prediction.v1.PredictionService/ListModels?connect=v1&encoding=json&message=%7B%7D`);
    expect(keyless.status).toBe(401);
  });
});

describe("a server whose models did not load", () => {
  let server: TestServer;
  let repo: TempRepo;
  beforeAll(async () => {
    repo = emptyRepository();
    server = await startTestServer({ MODEL_REPOSITORY: repo.dir });
  });
  afterAll(async () => {
    await server?.close();
    repo?.remove();
  });

  it("is live (200) but not ready (503), as grpc.health says", async () => {
    expect(await probe(server.baseUrl, "/healthz")).toMatchObject({ status: 200, text: "SERVING\n" });
    expect(await probe(server.baseUrl, "/readyz")).toMatchObject({ status: 503, text: "NOT_SERVING\n" });
    expect(await grpcHealth(server.baseUrl, "liveness")).toBe(Serving.SERVING);
    expect(await grpcHealth(server.baseUrl, "")).toBe(Serving.NOT_SERVING);
  });
});
