// Coalesces concurrent requests for one model version into batched
// executions, the way Triton's dynamic batcher does: a model run on 32 rows
// costs far less than 32 runs on one row, so requests that arrive together
// share one run.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Cancellation } from "../cancellation.js";
import { systemClock, type Clock, type Timer } from "./clock.js";

export interface BatcherOptions<T, R> {
  /** Most rows in one execution. */
  maxBatchSize: number;
  /** How long the OLDEST queued request may wait for company, in microseconds. 0 = never wait: take what is already queued. */
  maxQueueDelayUs: number;
  /** Most rows waiting in the queue; beyond it submit() rejects at once with RESOURCE_EXHAUSTED. */
  maxQueueRows: number;
  /** Executions allowed to run at the same time (e.g. the number of inference workers). Default 1. */
  maxConcurrency?: number;
  /**
   * Batches a free slot takes at once, run one after another, when more is
   * queued than one batch holds; the slot is free again when all are done.
   * For executions that run one after another in one event-loop turn anyway
   * (a session on the event loop): holding the queue back would only spread
   * its batches over more turns. Default 1.
   */
  maxBatchesPerDispatch?: number;
  /** Rows an item contributes (e.g. a PredictBatch chunk of 40 rows); must be 1..maxBatchSize. */
  rowsOf(item: T): number;
  /** Runs one batch; must resolve with one result per item, in order, or reject (then every item in the batch rejects with that error). */
  execute(items: T[]): Promise<R[]>;
  clock?: Clock;
  /** Observability hook, called once per execution: rows in it, and each item's queue time in ms. */
  onBatch?(info: { rows: number; items: number; queueMs: number[] }): void;
}

export interface SubmitOptions {
  /** Aborting it while the item is queued rejects it with CANCELED and frees its rows. */
  signal?: Cancellation;
  /** Clock ms; an item still queued at that time never runs and rejects with DEADLINE_EXCEEDED. */
  deadline?: number;
}

interface Entry<T, R> {
  item: T;
  rows: number;
  enqueuedAt: number;
  deadline: number | undefined;
  signal: Cancellation | undefined;
  onAbort: (() => void) | undefined;
  /** Set when the delay timer armed for this entry fired (see shouldDispatch). */
  waitedOut: boolean;
  resolve(result: R): void;
  reject(reason: unknown): void;
}

/**
 * Dynamic batcher for one model version.
 *
 * Scheduling: whenever an execution slot is free (fewer than maxConcurrency
 * running) and rows are queued, a batch is formed FIFO, taking whole items
 * while the row total stays <= maxBatchSize. An item that does not fit ends
 * the batch and leads the next one; nothing behind it is pulled forward, so a
 * big item can never be starved by a stream of small ones.
 *
 * - maxQueueDelayUs = 0: dispatch as soon as a slot is free, taking whatever is
 *   queued; an idle batcher never waits for time to pass. Dispatch runs at the
 *   end of the event-loop iteration (setImmediate, Node's check phase), after
 *   every connection that had data in this iteration has been read, so the
 *   requests that arrived together share one batch (a microtask, run right
 *   after the first of them, formed smaller batches at a higher CPU cost per
 *   call: docs/design.md, "Dynamic batching").
 *   With maxBatchesPerDispatch > 1, a queue longer than maxBatchSize goes
 *   in one dispatch, as up to that many batches: one batch per dispatch
 *   would answer small batches at one per loop turn.
 * - maxQueueDelayUs > 0: dispatch when queued rows reach maxBatchSize, or when
 *   the oldest queued item has waited maxQueueDelayUs (a clock timer),
 *   whichever comes first. If all slots are busy, the batch goes as soon as one
 *   frees, since the oldest item has waited long enough by then.
 *
 * Before each execution, queued items whose deadline <= clock.now() are
 * dropped and reject with DEADLINE_EXCEEDED; they never reach execute(). An
 * item whose signal aborts while queued is removed at once and rejects with
 * CANCELED. Once an item is in a running batch its signal is ignored:
 * inference cannot be interrupted, so it just resolves and the caller ignores
 * the result.
 *
 * submit() rejects at once with RESOURCE_EXHAUSTED when the item would take
 * the queue past maxQueueRows, with INTERNAL when rowsOf(item) is outside
 * 1..maxBatchSize (a caller bug: it should have split the request), and with
 * UNAVAILABLE after drain().
 *
 * If execute() rejects, throws, or returns the wrong number of results, every
 * item of that batch rejects (with its error, or INTERNAL for a wrong count);
 * later batches are unaffected.
 */
export class DynamicBatcher<T, R> {
  private readonly maxBatchSize: number;
  private readonly delayMs: number;
  private readonly maxQueueRows: number;
  private readonly maxConcurrency: number;
  private readonly maxBatchesPerDispatch: number;
  private readonly clock: Clock;
  private readonly queue: Entry<T, R>[] = [];
  private rows = 0;
  private active = 0;
  private pumpScheduled = false;
  private timer: { entry: Entry<T, R>; handle: Timer } | undefined;
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: BatcherOptions<T, R>) {
    const { maxBatchSize, maxQueueDelayUs, maxQueueRows, maxConcurrency = 1, maxBatchesPerDispatch = 1 } = opts;
    // Bad options are a deployment bug; fail at startup, not on the first request.
    if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new RangeError(`maxBatchSize must be a positive integer, got ${maxBatchSize}`);
    if (!(maxQueueDelayUs >= 0)) throw new RangeError(`maxQueueDelayUs must be >= 0, got ${maxQueueDelayUs}`);
    if (!Number.isInteger(maxQueueRows) || maxQueueRows < 1) throw new RangeError(`maxQueueRows must be a positive integer, got ${maxQueueRows}`);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) throw new RangeError(`maxConcurrency must be a positive integer, got ${maxConcurrency}`);
    if (!Number.isInteger(maxBatchesPerDispatch) || maxBatchesPerDispatch < 1)
      throw new RangeError(`maxBatchesPerDispatch must be a positive integer, got ${maxBatchesPerDispatch}`);
    this.maxBatchSize = maxBatchSize;
    this.delayMs = maxQueueDelayUs / 1000;
    this.maxQueueRows = maxQueueRows;
    this.maxConcurrency = maxConcurrency;
    this.maxBatchesPerDispatch = maxBatchesPerDispatch;
    this.clock = opts.clock ?? systemClock;
  }

  /** Rows waiting in the queue (not counting running batches). */
  get queuedRows(): number {
    return this.rows;
  }

  /** Executions in progress. */
  get running(): number {
    return this.active;
  }

  submit(item: T, opts: SubmitOptions = {}): Promise<R> {
    // The executor runs synchronously, so the item is queued before submit()
    // returns; anything it throws (including from rowsOf) becomes a rejection.
    return new Promise<R>((resolve, reject) => {
      if (this.draining) throw new ConnectError("server is shutting down - retry later", Code.Unavailable);
      const rows = this.opts.rowsOf(item);
      if (!Number.isInteger(rows) || rows < 1 || rows > this.maxBatchSize) {
        throw new ConnectError(`item has ${rows} rows but a batch holds 1 to ${this.maxBatchSize}`, Code.Internal);
      }
      const { signal, deadline } = opts;
      if (signal?.aborted) throw abortReason(signal);
      if (deadline !== undefined && deadline <= this.clock.now()) throw deadlineExceeded();
      if (this.rows + rows > this.maxQueueRows) {
        throw new ConnectError(`queue full with ${this.rows} rows waiting and a limit of ${this.maxQueueRows}`, Code.ResourceExhausted);
      }
      const entry: Entry<T, R> = {
        item,
        rows,
        deadline,
        signal,
        resolve,
        reject,
        enqueuedAt: this.clock.now(),
        onAbort: undefined,
        waitedOut: false,
      };
      if (signal) {
        entry.onAbort = this.dropOnAbort(entry, signal);
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.queue.push(entry);
      this.rows += rows;
      this.schedule();
    });
  }

  /**
   * The listener that takes a queued entry out when its call is cancelled.
   * Made here rather than inline in submit()'s promise executor: a closure
   * there shares the executor's context, and under load V8 kept those (and
   * through them each call's whole graph) alive past two young-generation
   * GCs: ~2,200 bytes promoted per Predict with one call in flight, ~700
   * with this method (1,890 and 313 at 64 in flight).
   */
  private dropOnAbort(entry: Entry<T, R>, signal: Cancellation): () => void {
    return () => {
      const i = this.queue.indexOf(entry);
      if (i < 0) return; // already running: let it finish
      this.queue.splice(i, 1);
      this.leave(entry);
      entry.reject(abortReason(signal));
      this.schedule(); // the head (and its timer) or idleness may have changed
    };
  }

  /** Stop accepting (UNAVAILABLE), let queued and running work finish; resolves when idle. */
  drain(): Promise<void> {
    this.draining = true;
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.schedule(); // flush the queue now: nothing new can arrive to share a batch
    return idle;
  }

  /** Runs pump() once at the end of this event-loop iteration, however many events asked for it. */
  private schedule(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    this.clock.defer(this.scheduledPump);
  }

  private readonly scheduledPump = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  private pump(): void {
    // Once per pump, not per batch: a dispatch of many one-row batches would make it quadratic.
    if (this.active < this.maxConcurrency) this.dropExpired();
    // Batches the dispatch under way may still take past the slot limit.
    let followers = 0;
    while (this.active < this.maxConcurrency || followers > 0) {
      const head = this.queue[0];
      if (!head) break;
      if (!this.shouldDispatch(head)) {
        this.armTimer(head);
        return;
      }
      followers = this.active < this.maxConcurrency ? this.maxBatchesPerDispatch - 1 : followers - 1;
      this.run(this.takeBatch());
    }
    // No slot free (a completion pumps again) or nothing queued: no timer is
    // needed, and cancelling it lets an idle process exit.
    this.cancelTimer();
    if (this.draining && this.queue.length === 0 && this.active === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private shouldDispatch(head: Entry<T, R>): boolean {
    return (
      this.delayMs === 0 ||
      this.draining ||
      this.rows >= this.maxBatchSize ||
      // waitedOut: the timer is the authority that the delay has passed, as
      // real timers can fire a little before now() says they should.
      head.waitedOut ||
      this.clock.now() - head.enqueuedAt >= this.delayMs
    );
  }

  private armTimer(head: Entry<T, R>): void {
    if (this.timer?.entry === head) return; // already armed: no churn per submit
    this.cancelTimer();
    const handle = this.clock.setTimer(
      () => {
        this.timer = undefined;
        head.waitedOut = true;
        this.schedule();
      },
      head.enqueuedAt + this.delayMs - this.clock.now(),
    );
    this.timer = { entry: head, handle };
  }

  private cancelTimer(): void {
    this.timer?.handle.cancel();
    this.timer = undefined;
  }

  /** Rejects queued items past their deadline, so they never reach execute(). */
  private dropExpired(): void {
    const now = this.clock.now();
    for (let i = 0; i < this.queue.length; ) {
      const entry = this.queue[i];
      const expired = entry.deadline !== undefined && entry.deadline <= now;
      if (!expired && !entry.signal?.aborted) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.leave(entry);
      entry.reject(expired ? deadlineExceeded() : abortReason(entry.signal));
    }
  }

  /** The longest FIFO prefix that fits in one batch (never empty: every item fits alone). */
  private takeBatch(): Entry<T, R>[] {
    let rows = 0;
    let n = 0;
    while (n < this.queue.length && rows + this.queue[n].rows <= this.maxBatchSize) rows += this.queue[n++].rows;
    const batch = this.queue.splice(0, n);
    for (const entry of batch) this.leave(entry);
    return batch;
  }

  /** Bookkeeping for an entry leaving the queue, whichever way it leaves. */
  private leave(entry: Entry<T, R>): void {
    this.rows -= entry.rows;
    // Long-lived signals (a connection's, a shutdown's) would otherwise keep
    // every item that ever waited on them reachable.
    if (entry.onAbort) entry.signal?.removeEventListener("abort", entry.onAbort);
    entry.onAbort = undefined;
  }

  private run(batch: Entry<T, R>[]): void {
    this.active++;
    const now = this.clock.now();
    try {
      this.opts.onBatch?.({
        rows: batch.reduce((sum, e) => sum + e.rows, 0),
        items: batch.length,
        queueMs: batch.map((e) => now - e.enqueuedAt),
      });
    } catch {
      // A broken metrics hook must not break inference.
    }
    let execution: Promise<R[]>;
    try {
      execution = Promise.resolve(this.opts.execute(batch.map((e) => e.item)));
    } catch (e) {
      execution = Promise.reject(e); // a synchronous throw fails the batch like a rejection
    }
    const finish = (settle: () => void) => {
      this.active--; // before settling, so callers that resume see the slot free
      settle();
      this.schedule();
    };
    execution.then(
      (results) =>
        finish(() => {
          if (!Array.isArray(results) || results.length !== batch.length) {
            const got = Array.isArray(results) ? results.length : typeof results;
            const error = new ConnectError(`model returned ${got} results for ${batch.length} items`, Code.Internal);
            for (const e of batch) e.reject(error);
          } else {
            for (let i = 0; i < batch.length; i++) batch[i].resolve(results[i]);
          }
        }),
      (error: unknown) =>
        finish(() => {
          for (const e of batch) e.reject(error);
        }),
    );
  }
}

const canceled = () => new ConnectError("request cancelled while queued", Code.Canceled);

/**
 * Why an aborted item is dropped: the signal's own reason when it is an RPC
 * error (Connect aborts a call's signal with DEADLINE_EXCEEDED when the
 * server-side deadline passes), otherwise CANCELLED.
 */
function abortReason(signal: Cancellation | undefined): ConnectError {
  return signal?.reason instanceof ConnectError ? signal.reason : canceled();
}
const deadlineExceeded = () => new ConnectError("deadline exceeded while queued", Code.DeadlineExceeded);
