// The terminal and script users: `buf curl` with server reflection (no .proto
// files), and a plain JSON POST as curl or any HTTP library sends it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const body = { age: 35, income: 55000, creditScore: 720, employmentYears: 8.5, loanAmount: 25000, loanPurpose: "LOAN_PURPOSE_HOME" };

async function bufCurl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run("npx", ["buf", "curl", ...args], { timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout: string; stderr: string; code: number };
    return { stdout: err.stdout, stderr: err.stderr, code: err.code };
  }
}

describe("buf curl, schema from reflection", () => {
  it("lists the services over gRPC with HTTP/2 prior knowledge", async () => {
    const r = await bufCurl(["--protocol", "grpc", "--http2-prior-knowledge", "--list-services", server.baseUrl]);
    expect(r.stdout.split("\n")).toEqual(expect.arrayContaining(["prediction.v1.PredictionService", "grpc.health.v1.Health"]));
  });

  it("calls Predict over gRPC with a key", async () => {
    const r = await bufCurl([
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-H",
      `x-api-key: ${API_KEY}`,
      "-d",
      JSON.stringify(body),
      `${server.baseUrl}/prediction.v1.PredictionService/Predict`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.decision).toMatch(/^DECISION_(APPROVED|DENIED)$/);
    expect(out.modelName).toBe("loan-approval");
  });

  it("calls Predict over the Connect protocol on HTTP/1.1, and shows the BadRequest details", async () => {
    const r = await bufCurl([
      "-H",
      `x-api-key: ${API_KEY}`,
      "-d",
      JSON.stringify({ ...body, age: 12 }),
      `${server.baseUrl}/prediction.v1.PredictionService/Predict`,
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("invalid_argument");
    expect(r.stderr).toContain("google.rpc.BadRequest");
    expect(r.stderr).toContain("age must be at least 18 (got 12)");
  });
});

describe("plain JSON POST", () => {
  const url = () => `${server.baseUrl}/prediction.v1.PredictionService/Predict`;

  it("answers with JSON", async () => {
    const res = await fetch(url(), { method: "POST", headers: { "content-type": "application/json", "x-api-key": API_KEY }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(Number(res.headers.get("x-response-time-ms"))).toBeGreaterThanOrEqual(0);
    const json = await res.json();
    expect(json.modelVersion).toBe("1");
    expect(typeof json.approvalProbability).toBe("number");
  });

  it("accepts snake_case field names and enum numbers, as protobuf JSON allows", async () => {
    const snake = { age: 35, income: 55000, credit_score: 720, employment_years: 8.5, loan_amount: 25000, loan_purpose: 1 };
    const res = await fetch(url(), { method: "POST", headers: { "content-type": "application/json", "x-api-key": API_KEY }, body: JSON.stringify(snake) });
    expect(res.status).toBe(200);
  });

  it("gives 401 without a key and 400 with a field error", async () => {
    const noKey = await fetch(url(), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(noKey.status).toBe(401);
    expect((await noKey.json()).code).toBe("unauthenticated");
    const bad = await fetch(url(), {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": API_KEY },
      body: JSON.stringify({ ...body, creditScore: 900 }),
    });
    expect(bad.status).toBe(400);
    const err = await bad.json();
    expect(err.code).toBe("invalid_argument");
    expect(err.details[0].type).toBe("google.rpc.BadRequest");
  });

  it("answers GET / with the web page, which points at the API reference", async () => {
    // dist/web, built by npm ci / npm run build; without it, GET / gives a JSON index (static-site.test.ts).
    const res = await fetch(`${server.baseUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toContain('href="/docs"');
    expect((await fetch(`${server.baseUrl}/openapi.json`)).status).toBe(200);
  });
});
