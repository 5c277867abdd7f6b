// ONNX Runtime's usage telemetry stays off unless the operator turns it on: a
// server started without ORT_DISABLE_TELEMETRY loads its models and answers
// without leaving ONNX Runtime's device id or its debug log behind (both are
// made when the first session is, if telemetry is on).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it, onTestFinished } from "vitest";
import { predictJson } from "./support/connect-json.js";
import { freePort, killChildren, run } from "./support/server-process.js";
import { API_KEY } from "./support/test-server.js";

afterEach(killChildren);

it("loads its models and answers with ONNX Runtime's telemetry off by default", { timeout: 90_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), "ort-home-"));
  onTestFinished(() => rmSync(home, { recursive: true, force: true }));
  const port = await freePort();
  const env = {
    PORT: String(port),
    METRICS_PORT: "0",
    HOST: "127.0.0.1",
    WORKERS: "1",
    API_KEYS: API_KEY,
    LOG_LEVEL: "warn",
    HOME: home,
    XDG_CACHE_HOME: join(home, ".cache"),
  };
  const child = run(process.execPath, ["--import", "tsx", "src/main.ts"], env);
  const baseUrl = `http://127.0.0.1:${port}`;
  await child.waitUntilServing(baseUrl, 60_000);

  const answer = await predictJson(baseUrl, { "x-api-key": API_KEY });
  expect(answer.status, answer.text).toBe(200);
  expect(existsSync(join(home, ".cache", "Microsoft")), "ONNX Runtime's device id directory").toBe(false);
  expect(existsSync(join("/tmp", `mat-debug-${child.proc.pid}.log`)), "ONNX Runtime's telemetry log").toBe(false);
});
