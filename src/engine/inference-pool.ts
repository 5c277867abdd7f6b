/**
 * A small pool of worker threads that hold onnxruntime sessions and run them.
 *
 * Why: onnxruntime-node's `session.run()` performs the whole inference
 * synchronously on the calling thread (inside a setImmediate), so a 20 ms
 * inference on the main thread freezes every other call on the process. With
 * the pool, the main thread only posts messages; inference runs on workers.
 *
 * Model:
 * - `load()` loads a model file in EVERY worker, so any worker can run it.
 * - `run()` goes to the live worker with the fewest in-flight runs that holds
 *   the session (ties rotate). Input buffers are transferred to the worker and
 *   output buffers transferred back; nothing is copied, except a typed array
 *   that is only a view into a larger buffer (e.g. a slice of a Node Buffer
 *   pool), which is copied so unrelated memory is not detached.
 * - `release()` really calls `session.release()` in every worker (sessions leak
 *   native memory otherwise; onnxruntime issue #25325); later `run()`s reject.
 *
 * Worker crashes: when a worker exits unexpectedly (an uncaught exception in
 * it, its heap running out, ...), its pending calls reject (they are not
 * retried), and a replacement worker is started which re-loads, from the same
 * paths and options, every session that has not been released. Until its
 * re-load finishes, runs go to the other workers (or wait for the re-load when
 * no other worker holds the session). If the re-load fails (e.g. the file has
 * been removed), the session stays available on the workers that still hold
 * it. Repeated crashes of the same slot are retried with exponential back-off
 * (up to 5 s) so a worker that dies at start-up cannot spin.
 *
 * Never `terminate()` a worker that may be inside `session.run()`: when the
 * native run returns into a terminating worker, onnxruntime-node's binding
 * throws a C++ exception nobody catches and the WHOLE PROCESS aborts
 * ("terminate called after throwing an instance of 'Napi::Error'"). The pool
 * only terminates idle workers (see close()), and has no run timeout for that
 * reason.
 *
 * The worker is plain ESM JavaScript (inference-worker.mjs, next to this file,
 * sharing transferable.mjs with the pool), so it needs no TypeScript loader;
 * a compiled build must copy both alongside (scripts/build.mjs).
 * Workers keep the process alive until `close()`.
 */
import { Worker } from "node:worker_threads";
import { keepOrtTelemetryOff } from "./ort-telemetry.js";
import type { ModelSession, SessionInfo, SessionOptionsLite, TensorIO } from "./session-types.js";
import { transferable } from "./transferable.mjs";

/** A session in the pool: runs on the least-busy worker that holds it. */
export interface PooledSession extends ModelSession {
  /** Pool-wide id of the session (as listed in stats()). */
  readonly id: number;
}

export interface WorkerCrash {
  /** Slot index of the worker, 0..workers-1. */
  index: number;
  threadId: number;
  exitCode: number;
  error?: Error;
  /** Milliseconds until the replacement worker starts. */
  restartInMs: number;
}

export interface InferencePoolOptions {
  workers: number;
  /** Called when a worker exits unexpectedly (for logging). */
  onWorkerCrash?: (crash: WorkerCrash) => void;
}

/** Per-worker view returned by stats(). */
export interface WorkerStats {
  index: number;
  /** threadId of the current worker, or undefined while waiting to restart. */
  threadId: number | undefined;
  inFlightRuns: number;
  /** Ids of the sessions loaded and runnable on this worker. */
  sessions: number[];
  restarts: number;
}

const WORKER_URL = new URL("./inference-worker.mjs", import.meta.url);
const MAX_RESTART_DELAY_MS = 5_000;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** Last 'error' event of the current worker, reported when it exits. */
  lastError: Error | undefined;
  pending: Map<number, Pending>;
  /** close() waiting for `pending` to drain. */
  idleWaiters: Array<() => void>;
  inFlightRuns: number;
  /** Sessions loaded and runnable on the current worker. */
  loaded: Set<number>;
  /** Loads in progress on the current worker (resolve true on success). */
  loading: Map<number, Promise<boolean>>;
  restarts: number;
  /** Crashes since the last successful reply; drives the restart back-off. */
  consecutiveCrashes: number;
  restartTimer: NodeJS.Timeout | undefined;
}

interface SessionRecord {
  path: string;
  options: SessionOptionsLite | undefined;
  released: boolean;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { message: string } };

export class InferencePool {
  private readonly slots: Slot[] = [];
  private readonly sessions = new Map<number, SessionRecord>();
  private readonly onWorkerCrash: ((crash: WorkerCrash) => void) | undefined;
  private nextCallId = 1;
  private nextSessionId = 1;
  private rotation = 0;
  private closing: Promise<void> | undefined;

  constructor(opts: InferencePoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) {
      throw new Error(`InferencePool needs a positive integer number of workers, got ${opts.workers}`);
    }
    this.onWorkerCrash = opts.onWorkerCrash;
    keepOrtTelemetryOff();
    for (let index = 0; index < opts.workers; index++) {
      const slot: Slot = {
        index,
        worker: undefined,
        lastError: undefined,
        pending: new Map(),
        idleWaiters: [],
        inFlightRuns: 0,
        loaded: new Set(),
        loading: new Map(),
        restarts: 0,
        consecutiveCrashes: 0,
        restartTimer: undefined,
      };
      this.slots.push(slot);
      this.startWorker(slot);
    }
  }

  /**
   * Loads the model file in every worker. Rejects with an error naming the
   * file and carrying onnxruntime's message if any worker fails, after
   * releasing the session in the workers where it did load.
   */
  async load(modelPath: string, options?: SessionOptionsLite): Promise<PooledSession> {
    this.assertOpen();
    const sessionId = this.nextSessionId++;
    const record: SessionRecord = { path: modelPath, options: options && { ...options }, released: false };
    // Registered before loading so that a worker replaced meanwhile re-loads it too.
    this.sessions.set(sessionId, record);

    const live = this.slots.filter((slot) => slot.worker !== undefined);
    if (live.length === 0) {
      this.sessions.delete(sessionId);
      throw new Error(`cannot load model ${modelPath}: no inference worker is running`);
    }
    const results = await Promise.allSettled(live.map((slot) => this.loadInto(slot, sessionId, record)));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure || this.closing) {
      await this.releaseEverywhere(sessionId, record);
      if (this.closing) throw new Error(`cannot load model ${modelPath}: inference pool closed`);
      const reason = failure!.reason instanceof Error ? failure!.reason.message : String(failure!.reason);
      throw new Error(`failed to load model ${modelPath}: ${reason}`);
    }
    const info = (results[0] as PromiseFulfilledResult<SessionInfo>).value;
    return {
      id: sessionId,
      info,
      run: (feeds) => this.run(sessionId, record, feeds),
      release: () => this.releaseEverywhere(sessionId, record),
    };
  }

  /** Per-worker load and session state, for metrics and tests. */
  stats(): WorkerStats[] {
    return this.slots.map((slot) => ({
      index: slot.index,
      threadId: slot.worker?.threadId,
      inFlightRuns: slot.inFlightRuns,
      sessions: [...slot.loaded],
      restarts: slot.restarts,
    }));
  }

  /**
   * Test hook: makes worker `index` die of an uncaught exception, as a bug in
   * the worker would. Operations already running there finish first; any
   * operation posted to it afterwards (before the pool notices the exit)
   * rejects.
   */
  crashWorkerForTesting(index: number): void {
    const worker = this.slots[index]?.worker;
    if (!worker) throw new Error(`inference worker ${index} is not running`);
    worker.postMessage({ op: "crash", id: 0 });
  }

  /**
   * Releases every session, waits until each worker has finished what it was
   * doing, then terminates the workers. New calls reject from the start.
   *
   * It deliberately has no timeout: terminating a worker while it is inside
   * onnxruntime's native run aborts the whole process (see the top of this
   * file), so a worker is only ever terminated when idle.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    for (const [sessionId, record] of this.sessions) {
      record.released = true;
      for (const slot of this.slots) {
        // Queued behind the runs already sent; the replies are awaited through whenIdle().
        if (slot.worker) this.call(slot, { op: "release", sessionId }).catch(() => undefined);
      }
    }
    this.sessions.clear();
    await Promise.all(
      this.slots.map(async (slot) => {
        await this.whenIdle(slot);
        const worker = slot.worker;
        if (worker) await worker.terminate();
      }),
    );
  }

  /** Resolves once the slot has no call awaiting a reply. */
  private whenIdle(slot: Slot): Promise<void> {
    if (slot.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => slot.idleWaiters.push(resolve));
  }

  private settled(slot: Slot): void {
    if (slot.pending.size > 0) return;
    const waiters = slot.idleWaiters.splice(0);
    for (const resolve of waiters) resolve();
  }

  private assertOpen(): void {
    if (this.closing) throw new Error("inference pool closed");
  }

  private startWorker(slot: Slot): void {
    slot.restartTimer = undefined;
    // The worker is plain JavaScript: no TypeScript loader (which would cost it
    // start-up time and memory) is passed down from the parent's --import.
    const worker = new Worker(WORKER_URL, { workerData: { index: slot.index }, execArgv: [] });
    slot.worker = worker;
    slot.lastError = undefined;
    worker.on("message", (reply: Reply) => this.onReply(slot, worker, reply));
    worker.on("error", (error) => {
      if (slot.worker === worker) slot.lastError = error;
    });
    worker.on("messageerror", (error) => {
      if (slot.worker === worker) slot.lastError = error;
    });
    worker.on("exit", (code) => this.onExit(slot, worker, code));
    // A replacement re-loads every live session (the first workers have none yet).
    for (const [sessionId, record] of this.sessions) {
      if (!record.released) this.loadInto(slot, sessionId, record).catch(() => undefined);
    }
  }

  private onReply(slot: Slot, worker: Worker, reply: Reply): void {
    if (slot.worker !== worker) return;
    const pending = slot.pending.get(reply.id);
    if (!pending) return;
    slot.pending.delete(reply.id);
    slot.consecutiveCrashes = 0;
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(new Error(reply.error.message));
    this.settled(slot);
  }

  private onExit(slot: Slot, worker: Worker, exitCode: number): void {
    if (slot.worker !== worker) return;
    const threadId = worker.threadId;
    slot.worker = undefined;
    slot.loaded.clear();
    slot.loading.clear();
    slot.inFlightRuns = 0;
    const cause = slot.lastError;
    const error = this.closing
      ? new Error("inference pool closed")
      : new Error(`inference worker ${slot.index} exited unexpectedly (exit code ${exitCode})${cause ? `: ${cause.message}` : ""}`, { cause });
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of pending) p.reject(error);
    this.settled(slot);
    if (this.closing) return;

    slot.restarts++;
    slot.consecutiveCrashes++;
    const restartInMs = slot.consecutiveCrashes <= 1 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (slot.consecutiveCrashes - 2));
    this.onWorkerCrash?.({ index: slot.index, threadId, exitCode, error: cause, restartInMs });
    slot.restartTimer = setTimeout(() => {
      if (!this.closing) this.startWorker(slot);
    }, restartInMs);
  }

  /** Sends one operation to the slot's current worker and resolves with its result. */
  private call(slot: Slot, message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = slot.worker;
    if (!worker) return Promise.reject(new Error(`inference worker ${slot.index} is not running`));
    const id = this.nextCallId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const full = { ...message, id };
      try {
        worker.postMessage(full, transfer);
      } catch (err) {
        try {
          // Something in the transfer list cannot be transferred (e.g. marked untransferable): copy instead.
          if (transfer.length > 0 && err instanceof Error && err.name === "DataCloneError") worker.postMessage(full);
          else throw err;
        } catch (err2) {
          slot.pending.delete(id);
          reject(err2 instanceof Error ? err2 : new Error(String(err2)));
          this.settled(slot);
        }
      }
    });
  }

  private loadInto(slot: Slot, sessionId: number, record: SessionRecord): Promise<SessionInfo> {
    const loading = this.call(slot, { op: "load", sessionId, path: record.path, options: record.options }) as Promise<SessionInfo>;
    const worker = slot.worker;
    const done = loading.then(
      () => {
        // Only mark runnable if neither the worker nor the session went away meanwhile.
        if (slot.worker === worker && !record.released && this.sessions.has(sessionId)) slot.loaded.add(sessionId);
        return slot.loaded.has(sessionId);
      },
      () => false,
    );
    slot.loading.set(sessionId, done);
    void done.then(() => {
      if (slot.loading.get(sessionId) === done) slot.loading.delete(sessionId);
    });
    return loading;
  }

  private async releaseEverywhere(sessionId: number, record: SessionRecord): Promise<void> {
    if (record.released) return;
    record.released = true;
    this.sessions.delete(sessionId);
    const releases: Promise<unknown>[] = [];
    for (const slot of this.slots) {
      slot.loaded.delete(sessionId);
      slot.loading.delete(sessionId);
      // Sent even where the load is still in progress: the worker handles operations in order.
      if (slot.worker) releases.push(this.call(slot, { op: "release", sessionId }));
    }
    const results = await Promise.allSettled(releases);
    // A worker that died meanwhile took the session with it; other failures are real.
    const failure = results.find(
      (r): r is PromiseRejectedResult => r.status === "rejected" && !/exited unexpectedly|pool closed/.test(String(r.reason?.message)),
    );
    if (failure) throw new Error(`failed to release model ${record.path}: ${failure.reason?.message ?? failure.reason}`);
  }

  /** The live worker holding the session with the fewest in-flight runs; ties rotate. */
  private pickWorker(sessionId: number): Slot | undefined {
    let best: Slot | undefined;
    const n = this.slots.length;
    const start = this.rotation++ % n;
    for (let k = 0; k < n; k++) {
      const slot = this.slots[(start + k) % n];
      if (!slot.worker || !slot.loaded.has(sessionId)) continue;
      if (!best || slot.inFlightRuns < best.inFlightRuns) best = slot;
    }
    return best;
  }

  private async run(sessionId: number, record: SessionRecord, feeds: Record<string, TensorIO>): Promise<Record<string, TensorIO>> {
    this.assertOpen();
    if (record.released) throw new Error(`model ${record.path} has been released`);
    let slot = this.pickWorker(sessionId);
    if (!slot) {
      // No worker holds it right now: wait for re-loads in progress (after a crash).
      const loads = this.slots.map((s) => s.loading.get(sessionId)).filter((p): p is Promise<boolean> => p !== undefined);
      if (loads.length > 0) {
        await Promise.race([Promise.all(loads), ...loads.map((p) => p.then((ok) => (ok ? true : new Promise(() => {}))))]);
      }
      this.assertOpen();
      if (record.released) throw new Error(`model ${record.path} has been released`);
      slot = this.pickWorker(sessionId);
      if (!slot) throw new Error(`model ${record.path} is not loaded in any running inference worker`);
    }

    const { tensors: message, transfer } = transferable(feeds);
    slot.inFlightRuns++;
    const worker = slot.worker;
    try {
      return (await this.call(slot, { op: "run", sessionId, feeds: message }, transfer)) as Record<string, TensorIO>;
    } finally {
      // After a crash the counter was reset for the replacement worker; leave it alone.
      if (slot.worker === worker) slot.inFlightRuns--;
    }
  }
}
