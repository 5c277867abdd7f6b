// One loaded, warmed-up model version: its ONNX session (held by the worker
// pool, or on the event loop for a tiny model) behind its own dynamic
// batcher, with a count of the calls using it so that it is released only
// once they have finished.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Cancellation } from "../cancellation.js";
import { systemClock, type Clock } from "./clock.js";
import { DynamicBatcher } from "./dynamic-batcher.js";
import type { EngineObserver } from "./engine-observer.js";
import { EVENT_LOOP_MAX_RUN_MS, loadOnEventLoop } from "./event-loop-session.js";
import type { InferencePool } from "./inference-pool.js";
import type { ModelConfig } from "./model-config.js";
import { startRunSpans } from "./run-spans.js";
import type { ModelSession } from "./session-types.js";
import { splitRows, stackRows, zeroTensor, type Tensors } from "./tensor-rows.js";
import type { TracedCall } from "./traced-call.js";

interface QueuedRequest {
  feeds: Tensors;
  rows: number;
  enqueuedAt: number;
  trace: TracedCall | undefined;
}

export interface InferOptions {
  signal?: Cancellation;
  /** Absolute deadline on the engine clock (ms); past it the request is dropped unrun. */
  deadline?: number;
  /** The call's trace, when it is sampled: its queue wait and run become spans. */
  trace?: TracedCall;
}

export class ServedVersion {
  private inflight = 0;
  private drained: (() => void) | undefined;
  private readonly batcher: DynamicBatcher<QueuedRequest, Tensors>;

  private constructor(
    readonly config: ModelConfig,
    readonly version: string,
    private readonly session: ModelSession,
    private readonly clock: Clock,
    private readonly observer: EngineObserver | undefined,
    workers: number,
    /** Batches one dispatch may take when more is queued (see DynamicBatcher); logged at load. */
    readonly batchesPerDispatch: number,
  ) {
    const b = config.batching;
    this.batcher = new DynamicBatcher<QueuedRequest, Tensors>({
      maxBatchSize: b.max_batch_size,
      maxQueueDelayUs: b.max_queue_delay_us,
      maxQueueRows: b.max_queue_rows,
      // On the event loop one run at a time; in the pool, one per worker.
      maxConcurrency: config.session.execution === "event_loop" ? 1 : workers,
      maxBatchesPerDispatch: batchesPerDispatch,
      clock,
      rowsOf: (r) => r.rows,
      execute: (items) => this.execute(items),
    });
  }

  /** Loads the session in the pool, checks it against the config, and warms it up. */
  static async load(args: {
    pool: InferencePool;
    config: ModelConfig;
    modelPath: string;
    version: string;
    workers: number;
    clock?: Clock;
    observer?: EngineObserver;
  }): Promise<ServedVersion> {
    const { config, modelPath } = args;
    const sessionOptions = {
      intraOpNumThreads: config.session.intra_op_threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: config.session.graph_optimization_level,
    };
    const onEventLoop = config.session.execution === "event_loop";
    const session = onEventLoop ? await loadOnEventLoop(modelPath, sessionOptions) : await args.pool.load(modelPath, sessionOptions);
    let runMs = 0;
    try {
      const missing = [
        ...config.inputs.filter((t) => !session.info.inputNames.includes(t.name)).map((t) => `input "${t.name}"`),
        ...config.outputs.filter((t) => !session.info.outputNames.includes(t.name)).map((t) => `output "${t.name}"`),
      ];
      if (missing.length > 0) {
        throw new Error(
          `${modelPath}: the model has no ${missing.join(", ")} (it has inputs ${session.info.inputNames.join(", ")} and outputs ${session.info.outputNames.join(", ")})`,
        );
      }
      await warmUp(session, config, modelPath);
      // A model on the event loop must run its largest batch quickly: every other call waits meanwhile.
      if (onEventLoop) runMs = await runTime(session, config, modelPath, config.batching.max_batch_size);
    } catch (e) {
      await session.release().catch(() => {});
      throw e;
    }
    const create = (batchesPerDispatch: number) =>
      new ServedVersion(config, args.version, session, args.clock ?? systemClock, args.observer, args.workers, batchesPerDispatch);
    if (!onEventLoop) return create(1);
    // Runs dispatched together follow one another in one loop turn: as many
    // largest batches as fit in the time one run may hold the loop (by the
    // warm timing, which load stretches: docs/design.md, "Inference: worker threads, or the event loop").
    if (runMs <= EVENT_LOOP_MAX_RUN_MS) return create(Math.max(1, Math.floor(EVENT_LOOP_MAX_RUN_MS / Math.max(runMs, 0.001))));
    await session.release().catch(() => {});
    const inWorker = await ServedVersion.load({ ...args, config: { ...config, session: { ...config.session, execution: "worker" } } });
    inWorker.executionNote = `session.execution "event_loop" needs a run of max_batch_size (${config.batching.max_batch_size}) rows under ${EVENT_LOOP_MAX_RUN_MS} ms, this one took ${runMs.toFixed(1)} ms - running it in an inference worker instead`;
    return inWorker;
  }

  /** Set when the version runs elsewhere than its config asked, saying why (the repository logs it). */
  executionNote: string | undefined;

  /** Where the version runs. */
  get execution(): "worker" | "event_loop" {
    return this.config.session.execution;
  }

  get name(): string {
    return this.config.name;
  }

  /** Runs one request's rows (at most max_batch_size) with whatever else is queued. */
  async infer(feeds: Tensors, opts: InferOptions = {}): Promise<Tensors> {
    const rows = Object.values(feeds)[0].dims[0];
    const request: QueuedRequest = { feeds, rows, enqueuedAt: this.clock.now(), trace: opts.trace };
    try {
      return await this.batcher.submit(request, opts);
    } catch (e) {
      if (e instanceof ConnectError && e.code === Code.ResourceExhausted) this.observer?.countShed(this.name, this.version);
      throw e;
    } finally {
      this.observer?.setQueueDepth(this.name, this.version, this.batcher.queuedRows);
    }
  }

  private async execute(items: QueuedRequest[]): Promise<Tensors[]> {
    const start = this.clock.now();
    this.observer?.setQueueDepth(this.name, this.version, this.batcher.queuedRows);
    const span = startRunSpans(items, { model: this.name, version: this.version, start });
    let outputs: Tensors;
    let failure: string | undefined;
    try {
      outputs = await this.session.run(stackRows(items.map((i) => i.feeds)));
    } catch (e) {
      failure = (e as Error).message;
      throw e;
    } finally {
      span?.end(failure);
    }
    const rows = items.map((i) => i.rows);
    this.observer?.observeBatch({
      model: this.name,
      version: this.version,
      rows: rows.reduce((a, b) => a + b, 0),
      queueSeconds: items.map((i) => (start - i.enqueuedAt) / 1000),
      computeSeconds: (this.clock.now() - start) / 1000,
    });
    return splitRows(outputs as Tensors, rows);
  }

  /** Marks a call as using this version; the returned function ends it. */
  enter(): () => void {
    this.inflight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.inflight === 0) this.drained?.();
    };
  }

  get callsInFlight(): number {
    return this.inflight;
  }

  /** Waits for the calls using this version, then frees the session in every worker. */
  async unload(): Promise<void> {
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.batcher.drain();
    await this.session.release();
  }
}

async function warmUp(session: ModelSession, config: ModelConfig, modelPath: string): Promise<void> {
  const feeds: Tensors = {};
  for (const t of config.inputs) feeds[t.name] = zeroTensor(t.dtype, t.shape);
  try {
    await session.run(feeds);
  } catch (e) {
    throw new Error(`${modelPath}: warm-up inference failed: ${(e as Error).message}`);
  }
}

/**
 * How long one run of `rows` rows takes on the event loop, in ms (best of
 * three). onnxruntime-node defers each run to a setImmediate: timing from a
 * marker queued just before it leaves out the wait for the loop, which under
 * load is longer than the run itself.
 */
async function runTime(session: ModelSession, config: ModelConfig, modelPath: string, rows: number): Promise<number> {
  const feeds: Tensors = {};
  for (const t of config.inputs) feeds[t.name] = zeroTensor(t.dtype, [rows, ...t.shape.slice(1)]);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    let start = performance.now();
    setImmediate(() => (start = performance.now()));
    try {
      await session.run(feeds);
    } catch (e) {
      throw new Error(`${modelPath}: a run of max_batch_size (${rows}) rows failed: ${(e as Error).message}`);
    }
    best = Math.min(best, performance.now() - start);
  }
  return best;
}
