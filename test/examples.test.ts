// The README's client example runs as written against the real server.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

it("examples/grpc-js-client.ts predicts with a key and reports UNAUTHENTICATED without", async () => {
  const target = `127.0.0.1:${server.port}`;
  const ok = await run("npx", ["tsx", "examples/grpc-js-client.ts", target], { env: { ...process.env, API_KEY } });
  expect(ok.stdout).toMatch(/^(approved|denied) p=0\.\d{3}|^(approved|denied) p=1\.000/);
  expect(ok.stdout).toContain("model=loan-approval@1");
  const bad = await run("npx", ["tsx", "examples/grpc-js-client.ts", target], { env: { ...process.env, API_KEY: "wrong" } }).catch((e) => e);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("UNAUTHENTICATED: missing or invalid API key");
});
