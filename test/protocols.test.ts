// The same behaviour, asserted over every protocol and HTTP version the one
// port answers: success, auth, validation details, batches, request ids, logs.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decision } from "../gen/prediction/v1/prediction_service_pb.js";
import { applications, STRONG, VALID, WEAK } from "./support/applications.js";
import { PROTOCOL_CLIENTS, type ProtocolClient } from "./support/protocol-clients.js";
import { API_KEY, OTHER_API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const auth = { "x-api-key": API_KEY };

describe.each(PROTOCOL_CLIENTS.map((f) => [f.name, f] as const))("%s", (_name, factory) => {
  let client: ProtocolClient;
  beforeAll(() => {
    client = factory.make(server.baseUrl);
  });
  afterAll(() => client?.close());

  it("predicts with the shipped model", async () => {
    const res = await client.predict(VALID, { headers: auth });
    if (!res.ok) throw new Error(`${res.code}: ${res.message}`);
    const m = res.message;
    expect([Decision.APPROVED, Decision.DENIED]).toContain(m.decision);
    expect(m.decision === Decision.APPROVED).toBe(m.approvalProbability >= 0.5);
    expect(m.probability).toBeGreaterThanOrEqual(0.5);
    expect(m.probability).toBeLessThanOrEqual(1);
    expect(m.probability).toBeCloseTo(Math.max(m.approvalProbability, 1 - m.approvalProbability), 12);
    expect(m.modelName).toBe("loan-approval");
    expect(m.modelVersion).toBe("1");
    expect(Math.abs(Number(m.timestamp!.seconds) * 1000 - Date.now())).toBeLessThan(60_000);
    expect(m.factors.length).toBeGreaterThan(0);
    expect(m.factors.length).toBeLessThanOrEqual(3);
  });

  it("gives a denied applicant the reasons against them, strongest first", async () => {
    const strong = await client.predict(STRONG, { headers: auth });
    const weak = await client.predict(WEAK, { headers: auth });
    if (!strong.ok || !weak.ok) throw new Error("call failed");
    expect(strong.message.decision).toBe(Decision.APPROVED);
    expect(weak.message.decision).toBe(Decision.DENIED);
    const c = weak.message.factors.map((f) => f.contribution);
    expect(c.every((x) => x < 0)).toBe(true);
    expect([...c].sort((a, b) => a - b)).toEqual(c);
    expect(weak.message.factors[0].description).not.toBe("");
  });

  it("accepts the key as a bearer token, and any configured key", async () => {
    expect((await client.predict(VALID, { headers: { authorization: `Bearer ${API_KEY}` } })).ok).toBe(true);
    expect((await client.predict(VALID, { headers: { "x-api-key": OTHER_API_KEY } })).ok).toBe(true);
  });

  it("refuses a missing or wrong key alike, with UNAUTHENTICATED", async () => {
    const missing = await client.predict(VALID);
    const wrong = await client.predict(VALID, { headers: { "x-api-key": `${API_KEY}x` } });
    const wrongBearer = await client.predict(VALID, { headers: { authorization: "Bearer nope" } });
    for (const r of [missing, wrong, wrongBearer]) {
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.code).toBe(Code.Unauthenticated);
      expect(r.message).toBe("missing or invalid API key");
    }
  });

  it("checks the key before validating, so no field detail leaks without one", async () => {
    const r = await client.predict({ ...VALID, age: 5 });
    expect(r.ok ? "ok" : r.code).toBe(Code.Unauthenticated);
  });

  it("names every invalid field and rule, with google.rpc.BadRequest details", async () => {
    const r = await client.predict({ ...VALID, age: 17, creditScore: 851 }, { headers: auth });
    if (r.ok) throw new Error("expected INVALID_ARGUMENT");
    expect(r.code).toBe(Code.InvalidArgument);
    expect(r.message).toContain("age must be at least 18 (got 17)");
    expect(r.message).toContain("credit_score must be at most 850 (got 851)");
    expect(r.badRequest?.fieldViolations.map((v) => [v.field, v.reason])).toEqual([
      ["age", "GTE"],
      ["credit_score", "LTE"],
    ]);
  });

  it("answers a batch in order with one result per input, equal to single calls", async () => {
    const inputs = applications(12);
    const batch = await client.predictBatch({ inputs }, { headers: auth });
    if (!batch.ok) throw new Error(`${batch.code}: ${batch.message}`);
    expect(batch.message.predictions).toHaveLength(12);
    expect(batch.message.processingTime).toBeDefined();
    for (const i of [0, 5, 11]) {
      const single = await client.predict(inputs[i], { headers: auth });
      if (!single.ok) throw new Error("single call failed");
      expect(batch.message.predictions[i].approvalProbability).toBeCloseTo(single.message.approvalProbability, 6);
    }
  });

  it("rejects a whole batch for one bad item, naming it", async () => {
    const inputs = applications(5);
    inputs[3] = { ...inputs[3], age: 150 };
    const r = await client.predictBatch({ inputs }, { headers: auth });
    if (r.ok) throw new Error("expected INVALID_ARGUMENT");
    expect(r.code).toBe(Code.InvalidArgument);
    expect(r.badRequest?.fieldViolations[0].field).toBe("inputs[3].age");
    expect(r.message).toContain("inputs[3].age must be at most 120 (got 150)");
  });

  it("echoes the client's x-request-id, on success and on error", async () => {
    const ok = await client.predict(VALID, { headers: { ...auth, "x-request-id": "req-ok-1" } });
    const bad = await client.predict(VALID, { headers: { "x-request-id": "req-bad-1" } });
    expect(ok.requestId).toBe("req-ok-1");
    expect(bad.requestId).toBe("req-bad-1");
  });
});

describe("the path under test", () => {
  it("is the one this vitest project asked for", () => {
    const listening = server.logs.find((l) => l.msg === "listening (gRPC, gRPC-Web, Connect)");
    expect(listening?.fastPath).toBe(process.env.FAST_PATH !== "0");
  });
});

describe("the call log", () => {
  it("has one line per call with method, protocol, code, duration and request id, and never the key", async () => {
    const c = PROTOCOL_CLIENTS[0].make(server.baseUrl);
    await c.predict(VALID, { headers: { ...auth, "x-request-id": "log-check-1" } });
    await c.predict(VALID, { headers: { "x-api-key": "wrong-key-value", "x-request-id": "log-check-2" } });
    c.close();
    const lines = server.logs.filter((l) => l.requestId === "log-check-1" || l.requestId === "log-check-2");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ method: "/prediction.v1.PredictionService/Predict", protocol: "grpc", code: "OK" });
    expect(lines[1]).toMatchObject({ protocol: "grpc", code: "UNAUTHENTICATED" });
    expect(typeof lines[0].durationMs).toBe("number");
    const protocols = new Set(server.logs.map((l) => l.protocol).filter(Boolean));
    expect(protocols).toEqual(new Set(["grpc", "grpc-web", "connect"]));
    expect(server.rawLogs()).not.toContain(API_KEY);
    expect(server.rawLogs()).not.toContain(OTHER_API_KEY);
    expect(server.rawLogs()).not.toContain("wrong-key-value");
  });
});
