// session.execution "event_loop": a tiny model run on the server's own thread
// answers exactly as it does in an inference worker, and a model too slow for
// that runs in a worker instead, with a note saying why.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { writeSlowModel } from "../scripts/make-slow-model.js";
import { InferencePool } from "../src/engine/inference-pool.js";
import { readModelConfig, type ModelConfig } from "../src/engine/model-config.js";
import { ServedVersion } from "../src/engine/served-version.js";
import { encodeApplications } from "../src/models/loan-task.js";
import { applications } from "./support/applications.js";
import { batchOfOneModel } from "./support/model-repos.js";

const LOAN_DIR = "models/loan-approval";
let pool: InferencePool;
let tmp: string;

beforeAll(() => {
  pool = new InferencePool({ workers: 1 });
  tmp = mkdtempSync(join(tmpdir(), "in-thread-execution-"));
});
afterAll(async () => {
  await pool?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const withExecution = (config: ModelConfig, execution: "worker" | "event_loop"): ModelConfig => ({ ...config, session: { ...config.session, execution } });

describe("session.execution", () => {
  it("on the event loop, the loan model answers exactly as in an inference worker, batched or not", async () => {
    const config = await readModelConfig(LOAN_DIR);
    const modelPath = join(LOAN_DIR, "1", "model.onnx");
    const load = (execution: "worker" | "event_loop") =>
      ServedVersion.load({ pool, config: withExecution(config, execution), modelPath, version: "1", workers: 1 });
    const [inline, worker] = await Promise.all([load("event_loop"), load("worker")]);
    try {
      const rows = applications(50).map((a) => create(PredictRequestSchema, a));
      // Concurrent single rows (batched together) and one 50-row request, on both.
      const run = (served: ServedVersion) =>
        Promise.all([
          served.infer(encodeApplications(served.config, rows)),
          ...rows.slice(0, 8).map((r) => served.infer(encodeApplications(served.config, [r]))),
        ]);
      const [a, b] = await Promise.all([run(inline), run(worker)]);
      expect(a.length).toBe(b.length);
      a.forEach((outputs, i) => {
        for (const name of Object.keys(outputs)) {
          expect(outputs[name]!.dims).toEqual(b[i]![name]!.dims);
          expect(Array.from(outputs[name]!.data as Float32Array)).toEqual(Array.from(b[i]![name]!.data as Float32Array));
        }
      });
    } finally {
      await Promise.all([inline.unload(), worker.unload()]);
    }
  });

  it("on the event loop, one dispatch runs many queued batches in one loop turn; in a worker, one batch per worker", async () => {
    const base = await readModelConfig(LOAN_DIR);
    const config: ModelConfig = { ...base, batching: { ...base.batching, max_batch_size: 1 } };
    const modelPath = join(LOAN_DIR, "1", "model.onnx");
    const load = (execution: "worker" | "event_loop") =>
      ServedVersion.load({ pool, config: withExecution(config, execution), modelPath, version: "1", workers: 1 });
    const [inline, worker] = await Promise.all([load("event_loop"), load("worker")]);
    try {
      expect(worker.batchesPerDispatch).toBe(1);
      // A run of one row takes well under 0.5 ms: at least 10 fit in the 5 ms a dispatch may hold the loop.
      expect(inline.batchesPerDispatch).toBeGreaterThanOrEqual(10);
      // 16 one-row calls at once: with one batch per dispatch they took two loop turns each.
      let turns = 0;
      let counting = true;
      const tick = () => {
        turns++;
        if (counting) setImmediate(tick);
      };
      setImmediate(tick);
      const rows = applications(16).map((a) => create(PredictRequestSchema, a));
      const outputs = await Promise.all(rows.map((r) => inline.infer(encodeApplications(inline.config, [r]))));
      counting = false;
      expect(outputs).toHaveLength(16);
      expect(turns).toBeLessThanOrEqual(6);
    } finally {
      await Promise.all([inline.unload(), worker.unload()]);
    }
  });

  it("runs a model whose largest batch is too slow for the event loop in a worker instead, saying why", async () => {
    const config = withExecution(await readModelConfig(LOAN_DIR), "event_loop");
    config.batching = { ...config.batching, max_batch_size: 1000 };
    const modelPath = join(tmp, "slow.onnx");
    writeSlowModel(modelPath, { loan: true, layers: 32, width: 512 });
    const served = await ServedVersion.load({ pool, config, modelPath, version: "1", workers: 1 });
    try {
      expect(served.execution).toBe("worker");
      expect(served.executionNote).toMatch(
        /session\.execution "event_loop" needs a run of max_batch_size \(1000\) rows under 5 ms, this one took \d+(\.\d)? ms - running it in an inference worker instead/,
      );
    } finally {
      await served.unload();
    }
  });

  it("fails the load, naming the file, when the model cannot run its largest batch at all", async () => {
    const config = withExecution(await readModelConfig(LOAN_DIR), "event_loop");
    const modelPath = join(tmp, "batch-of-one.onnx");
    writeFileSync(modelPath, batchOfOneModel());
    await expect(ServedVersion.load({ pool, config, modelPath, version: "1", workers: 1 })).rejects.toThrow(
      `${modelPath}: a run of max_batch_size (${config.batching.max_batch_size}) rows failed`,
    );
  });

  it("keeps a fast model on the event loop even while the loop is busy (the check times the run, not the wait)", async () => {
    const config = withExecution(await readModelConfig(LOAN_DIR), "event_loop");
    // Busy loop: a 20 ms block at every turn while the version loads.
    let busy = true;
    const spin = () => {
      const until = performance.now() + 20;
      while (performance.now() < until);
      if (busy) setTimeout(spin, 0);
    };
    setTimeout(spin, 0);
    try {
      const served = await ServedVersion.load({ pool, config, modelPath: join(LOAN_DIR, "1", "model.onnx"), version: "1", workers: 1 });
      expect(served.executionNote).toBeUndefined();
      expect(served.execution).toBe("event_loop");
      await served.unload();
    } finally {
      busy = false;
    }
  });
});
