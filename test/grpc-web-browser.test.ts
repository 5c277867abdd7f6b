// Google's grpc-web runtime (the `grpc-web` npm package) in real Chromium,
// in its default text mode and in binary mode, from a page on another
// origin: unary calls with their key, refusal and validation errors, a
// method connect-node serves (ListModels), and in text mode a server stream
// (health Watch), each logged and counted as gRPC-Web.
import { build } from "esbuild";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserCall, BrowserOutcome } from "./browser/grpc-web-calls.js";
import { PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { CHROMIUM } from "./support/browser.js";
import { inputFieldsFromRules } from "./support/input-rules.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const HEADLESS_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];
const APPLICATION = { age: 35, income: 55000, creditScore: 720, employmentYears: 8.5, loanAmount: 25000, loanPurpose: "LOAN_PURPOSE_HOME" };

let server: TestServer;
let site: Server;
let browser: Browser;
let page: Page;

/** A page on its own origin that loads the bundled calls. */
async function startSite(): Promise<{ server: Server; origin: string }> {
  const bundle = await build({
    entryPoints: ["test/browser/grpc-web-calls.ts"],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
  });
  const js = bundle.outputFiles[0]!.text;
  const s = createServer((req, res) => {
    if (req.url === "/calls.js") {
      res.writeHead(200, { "content-type": "text/javascript" });
      return res.end(js);
    }
    res.writeHead(200, { "content-type": "text/html" });
    res.end('<!doctype html><title>grpc-web</title><script type="module" src="/calls.js"></script>');
  });
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return { server: s, origin: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  const started = await startSite();
  site = started.server;
  server = await startTestServer({ CORS_ORIGINS: started.origin });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: HEADLESS_ARGS });
  page = await browser.newPage();
  await page.goto(`${started.origin}/`);
  await page.waitForFunction(() => "grpcWebCall" in globalThis);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
  site?.close();
});

async function call(c: Omit<BrowserCall, "baseUrl">): Promise<BrowserOutcome> {
  const arg: BrowserCall = { ...c, baseUrl: server.baseUrl };
  const outcome: BrowserOutcome = await page.evaluate(`grpcWebCall(${JSON.stringify(arg)})`);
  return outcome;
}

describe.each(["text", "binary"] as const)("grpc-web %s mode", (format) => {
  it("predicts, with the request id the server logged as a gRPC-Web call", async () => {
    const requestId = `browser-${format}-1`;
    const r = await call({
      format,
      method: "prediction.v1.PredictionService/Predict",
      request: APPLICATION,
      metadata: { "x-api-key": API_KEY, "x-request-id": requestId },
    });
    expect(r.ok, r.message).toBe(true);
    expect(r.messages[0]).toMatchObject({ modelName: "loan-approval", decision: expect.stringMatching(/^DECISION_(APPROVED|DENIED)$/) });
    expect(r.requestId).toBe(requestId);
    const line = server.logs.find((l) => l.requestId === requestId);
    expect(line).toMatchObject({ protocol: "grpc-web", code: "OK", method: "/prediction.v1.PredictionService/Predict" });
  });

  it("is refused UNAUTHENTICATED without a key", async () => {
    const r = await call({ format, method: "prediction.v1.PredictionService/Predict", request: APPLICATION, metadata: {} });
    expect(r).toMatchObject({ ok: false, code: 16, message: "missing or invalid API key" });
  });

  it("names the invalid field with INVALID_ARGUMENT", async () => {
    const r = await call({
      format,
      method: "prediction.v1.PredictionService/Predict",
      request: { ...APPLICATION, age: 17 },
      metadata: { "x-api-key": API_KEY },
    });
    expect(r).toMatchObject({ ok: false, code: 3 });
    expect(r.message).toContain("age must be at least 18");
  });

  it("lists the models (a method connect-node serves)", async () => {
    const r = await call({ format, method: "prediction.v1.PredictionService/ListModels", request: {}, metadata: { "x-api-key": API_KEY } });
    expect(r.ok, r.message).toBe(true);
    expect(JSON.stringify(r.messages[0])).toContain("loan-approval");
    // Each model's metadata, with the loan request's fields as the contract's rules say.
    const { metadata } = r.messages[0] as { metadata: Array<{ model: { name: string }; inputFields: unknown[] }> };
    expect(metadata.find((m) => m.model.name === "loan-approval")?.inputFields).toEqual(inputFieldsFromRules(PredictRequestSchema));
  });

  // The runtime streams only in text mode: in binary mode it reads the answer once complete, and Watch never completes.
  it.runIf(format === "text")("watches health over a server stream", async () => {
    const r = await call({ format, method: "grpc.health.v1.Health/Watch", request: { service: "" }, metadata: {}, take: 1 });
    expect(r).toMatchObject({ ok: true, messages: [{ status: "SERVING" }] });
  });
});

it("counts the browser's calls under protocol grpc-web", async () => {
  const text = await (await fetch(`${server.metricsBaseUrl}/metrics`)).text();
  const predicts = text.split("\n").filter((l) => l.startsWith("rpc_server_calls_total{") && l.includes('protocol="grpc-web"') && l.includes("Predict"));
  expect(predicts.join("\n")).toMatch(/code="OK"/);
  expect(predicts.join("\n")).toMatch(/code="INVALID_ARGUMENT"/);
});
