// Inference runs on worker threads: while long inferences are in flight, the
// event loop still answers a health Check within milliseconds.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";
import { writeSlowModel } from "../scripts/make-slow-model.js";
import { applications } from "./support/applications.js";
import { SHIPPED_IMAGE_MODEL } from "./support/model-repos.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const ROWS = 1000;
let server: TestServer;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "slow-repo-"));
  const dir = join(root, "loan-approval");
  mkdirSync(dir, { recursive: true });
  // Readiness needs the default image model too.
  cpSync(SHIPPED_IMAGE_MODEL, join(root, "shapes"), { recursive: true });
  // The loan model's interface, but a 32-layer 512-wide MatMul chain behind it.
  const config = JSON.parse(readFileSync("models/loan-approval/config.json", "utf8"));
  config.batching = { max_batch_size: ROWS, max_queue_delay_us: 0, max_queue_rows: 8 * ROWS };
  // The point of the test: a slow model runs in an inference worker, off the event loop.
  config.session = { ...config.session, execution: "worker" };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  writeSlowModel(join(dir, "1", "model.onnx"), { loan: true, layers: 32, width: 512 });
  server = await startTestServer({ MODEL_REPOSITORY: root, MAX_BATCH_INPUTS: String(ROWS), INFERENCE_WORKERS: "1", MODEL_POLL_INTERVAL_MS: "0" });
}, 120_000);

afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

it("answers health checks in milliseconds while long inferences run", async () => {
  const transport = createGrpcTransport({ baseUrl: server.baseUrl });
  const predict = createClient(PredictionService, transport);
  const health = createClient(Health, transport);
  expect((await health.check({ service: "" })).status).toBe(Serving.SERVING);

  const inputs = applications(ROWS);
  // One call alone: how long an inference of ROWS rows takes here.
  const t0 = performance.now();
  await predict.predictBatch({ inputs }, { headers: { "x-api-key": API_KEY } });
  const oneRunMs = performance.now() - t0;

  let inferring = true;
  const work = Promise.all(Array.from({ length: 4 }, () => predict.predictBatch({ inputs }, { headers: { "x-api-key": API_KEY } }))).finally(
    () => (inferring = false),
  );
  const latencies: number[] = [];
  while (inferring) {
    const start = performance.now();
    const res = await health.check({ service: "" });
    if (inferring) latencies.push(performance.now() - start);
    expect(res.status).toBe(Serving.SERVING);
    await new Promise((r) => setTimeout(r, 2));
  }
  await work;
  latencies.sort((a, b) => a - b);
  const median = latencies[Math.floor(latencies.length / 2)];
  console.info(
    `slow model: one run ${oneRunMs.toFixed(0)} ms; health Check p50 ${median.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms over ${latencies.length} checks`,
  );
  // If inference blocked the event loop, each check would wait for a whole run.
  expect(oneRunMs, "the slow model should take tens of ms per run").toBeGreaterThan(40);
  expect(latencies.length).toBeGreaterThanOrEqual(10);
  expect(median, `median health latency ${median.toFixed(1)} ms while runs take ${oneRunMs.toFixed(0)} ms`).toBeLessThan(Math.min(20, oneRunMs / 2));
});
