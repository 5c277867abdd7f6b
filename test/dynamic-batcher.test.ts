// The dynamic batcher driven step by step: a fake clock decides when time
// passes, and execute() returns promises the test settles by hand, so every
// scheduling decision is observable and nothing depends on real timing.
import { getEventListeners } from "node:events";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Clock } from "../src/engine/clock.js";
import { systemClock } from "../src/engine/clock.js";
import { DynamicBatcher, type BatcherOptions } from "../src/engine/dynamic-batcher.js";

/** Time moves only when advance() is called; due timers fire in time order. */
class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: { at: number; seq: number; fn: () => void }[] = [];

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number) {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return {
      cancel: () => {
        this.timers = this.timers.filter((x) => x !== timer);
      },
    };
  }

  // A microtask: the tests step the batcher by flushing promises. The real
  // clock's end-of-iteration dispatch has a test of its own (systemClock).
  defer(fn: () => void): void {
    queueMicrotask(fn);
  }

  get pending(): number {
    return this.timers.length;
  }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
      await flush(); // let the batcher react before the next timer
    }
    this.t = end;
    await flush();
  }
}

/** Runs every pending microtask (and the promise chains they start). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Item {
  id: string;
  rows?: number;
}

/** A batcher whose executions wait until the test settles them. */
function setup(opts: Partial<BatcherOptions<Item, string>> = {}) {
  const clock = new FakeClock();
  const calls: { ids: string[]; resolve(results: string[]): void; reject(e: unknown): void }[] = [];
  const batches: { rows: number; items: number; queueMs: number[] }[] = [];
  const batcher = new DynamicBatcher<Item, string>({
    maxBatchSize: 4,
    maxQueueDelayUs: 0,
    maxQueueRows: 100,
    rowsOf: (item) => item.rows ?? 1,
    execute: (items) => new Promise((resolve, reject) => calls.push({ ids: items.map((i) => i.id), resolve, reject })),
    clock,
    onBatch: (info) => batches.push(info),
    ...opts,
  });
  /** Completes a call the way a model would: one result per item, in order. */
  const complete = async (call = calls.find((c) => !("done" in c))!) => {
    Object.assign(call, { done: true });
    call.resolve(call.ids.map((id) => `r-${id}`));
    await flush();
  };
  return { clock, calls, batches, batcher, complete };
}

/** Records how a promise settled without awaiting it (so tests can check "not yet"). */
function track<R>(promise: Promise<R>) {
  const state: { value?: R; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

const codeOf = (e: unknown) => (e instanceof ConnectError ? e.code : undefined);

describe("DynamicBatcher", () => {
  it("splits by maxBatchSize in FIFO order and maps results back", async () => {
    const { calls, batches, batcher, complete } = setup();
    const ids = Array.from({ length: 10 }, (_, i) => `i${i}`);
    const results = ids.map((id) => batcher.submit({ id }));
    await flush();
    expect(calls.map((c) => c.ids)).toEqual([["i0", "i1", "i2", "i3"]]);
    await complete();
    await complete();
    await complete();
    expect(calls.map((c) => c.ids)).toEqual([ids.slice(0, 4), ids.slice(4, 8), ids.slice(8)]);
    expect(await Promise.all(results)).toEqual(ids.map((id) => `r-${id}`));
    expect(batches.map((b) => b.rows)).toEqual([4, 4, 2]);
    expect(batcher.running).toBe(0);
    expect(batcher.queuedRows).toBe(0);
  });

  it("keeps an item that does not fit for the next batch, never reordering past it", async () => {
    const { calls, batches, batcher, complete } = setup();
    const results = [
      batcher.submit({ id: "a" }),
      batcher.submit({ id: "b" }),
      batcher.submit({ id: "big", rows: 3 }),
      batcher.submit({ id: "c" }), // would fit in the first batch, but must not jump ahead of "big"
    ];
    expect(batcher.queuedRows).toBe(6);
    await flush();
    expect(calls.map((c) => c.ids)).toEqual([["a", "b"]]);
    expect(batcher.queuedRows).toBe(4);
    await complete();
    expect(calls.map((c) => c.ids)).toEqual([
      ["a", "b"],
      ["big", "c"],
    ]);
    await complete();
    expect(await Promise.all(results)).toEqual(["r-a", "r-b", "r-big", "r-c"]);
    expect(batches.map((b) => [b.rows, b.items])).toEqual([
      [2, 2],
      [4, 2],
    ]);
  });

  it("with delay 0 dispatches a lone item at once and coalesces same-tick submits", async () => {
    const { clock, calls, batcher, complete } = setup({ maxQueueDelayUs: 0 });
    const lone = batcher.submit({ id: "lone" });
    await flush();
    expect(calls.map((c) => c.ids)).toEqual([["lone"]]); // no clock advance needed
    expect(clock.pending).toBe(0); // and no timer armed
    // While the slot is busy, arrivals queue; the next batch takes all of them.
    const later = ["x", "y", "z"].map((id) => batcher.submit({ id }));
    await flush();
    expect(calls).toHaveLength(1);
    expect(batcher.queuedRows).toBe(3);
    await complete();
    expect(calls[1].ids).toEqual(["x", "y", "z"]);
    await complete();
    expect(await lone).toBe("r-lone");
    expect(await Promise.all(later)).toEqual(["r-x", "r-y", "r-z"]);

    // On an idle batcher, items submitted in the same tick share one batch.
    const same = ["p", "q"].map((id) => batcher.submit({ id }));
    await flush();
    expect(calls[2].ids).toEqual(["p", "q"]);
    await complete();
    await Promise.all(same);
  });

  it("with delay > 0 waits for the oldest item's delay, or less if the batch fills", async () => {
    const { clock, calls, batches, batcher, complete } = setup({ maxQueueDelayUs: 5000 });
    const a = batcher.submit({ id: "a" });
    await clock.advance(3);
    const b = batcher.submit({ id: "b" });
    await clock.advance(1.9);
    expect(calls).toHaveLength(0); // t=4.9: the oldest has waited 4.9 ms of 5
    await clock.advance(0.1);
    expect(calls.map((c) => c.ids)).toEqual([["a", "b"]]); // t=5: "a" waited out, "b" goes with it
    expect(batches[0].queueMs).toEqual([5, 2]);
    await complete();
    expect(await Promise.all([a, b])).toEqual(["r-a", "r-b"]);
    expect(clock.pending).toBe(0);

    // A full batch goes before the delay.
    const full = ["c", "d"].map((id) => batcher.submit({ id }));
    await clock.advance(1);
    expect(calls).toHaveLength(1);
    full.push(batcher.submit({ id: "e", rows: 2 }));
    await flush();
    expect(calls[1].ids).toEqual(["c", "d", "e"]);
    expect(batches[1].queueMs).toEqual([1, 1, 0]);
    expect(clock.pending).toBe(0); // the delay timer was cancelled
    await complete();
    expect(await Promise.all(full)).toEqual(["r-c", "r-d", "r-e"]);
  });

  it("drops items whose deadline passed while queued; they never reach execute", async () => {
    const { clock, calls, batcher, complete } = setup();
    const busy = batcher.submit({ id: "busy" });
    await flush();
    const late = track(batcher.submit({ id: "late" }, { deadline: clock.now() + 2 }));
    const ok = batcher.submit({ id: "ok" }, { deadline: clock.now() + 10 });
    await clock.advance(3);
    await complete();
    expect(calls.map((c) => c.ids)).toEqual([["busy"], ["ok"]]);
    expect(codeOf(late.error)).toBe(Code.DeadlineExceeded);
    await complete();
    expect(await Promise.all([busy, ok])).toEqual(["r-busy", "r-ok"]);

    // A deadline already past at submit is rejected without queueing.
    await expect(batcher.submit({ id: "past" }, { deadline: clock.now() })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    expect(batcher.queuedRows).toBe(0);
  });

  it("removes an item cancelled while queued and its abort listener", async () => {
    const { calls, batcher, complete } = setup();
    const busy = batcher.submit({ id: "busy" });
    await flush();
    const controller = new AbortController();
    const cancelled = track(batcher.submit({ id: "x", rows: 2 }, { signal: controller.signal }));
    const other = batcher.submit({ id: "y" });
    expect(batcher.queuedRows).toBe(3);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    controller.abort();
    await flush();
    expect(codeOf(cancelled.error)).toBe(Code.Canceled);
    expect(batcher.queuedRows).toBe(1); // removed at once, not at the next dispatch
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    await complete();
    expect(calls.map((c) => c.ids)).toEqual([["busy"], ["y"]]);
    await complete();
    expect(await Promise.all([busy, other])).toEqual(["r-busy", "r-y"]);
  });

  it("lets an item cancelled while its batch runs finish, and drops its listener on dispatch", async () => {
    const { calls, batcher, complete } = setup();
    const controller = new AbortController();
    const result = batcher.submit({ id: "x" }, { signal: controller.signal });
    await flush();
    expect(calls).toHaveLength(1);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    controller.abort();
    await complete();
    expect(await result).toBe("r-x");
  });

  it("rejects with RESOURCE_EXHAUSTED at once when the queue is full, others still succeed", async () => {
    const { batcher, complete } = setup({ maxQueueRows: 3 });
    const busy = batcher.submit({ id: "busy", rows: 2 }); // dispatched: running rows do not count
    await flush();
    const queued = batcher.submit({ id: "a", rows: 2 });
    const rejected = track(batcher.submit({ id: "b", rows: 2 }));
    await Promise.resolve(); // settled without any dispatch
    expect(rejected.settled).toBe(true);
    expect(codeOf(rejected.error)).toBe(Code.ResourceExhausted);
    const message = (rejected.error as ConnectError).rawMessage;
    expect(message).toBe("queue full with 2 rows waiting and a limit of 3");
    expect(message).not.toMatch(/[:;,=]/); // grpc-js would show these percent-encoded
    const fits = batcher.submit({ id: "c" }); // 2 + 1 <= 3
    await complete();
    await complete();
    expect(await Promise.all([busy, queued, fits])).toEqual(["r-busy", "r-a", "r-c"]);
  });

  it("rejects an item whose row count is outside 1..maxBatchSize with INTERNAL", async () => {
    const { calls, batcher } = setup();
    await expect(batcher.submit({ id: "huge", rows: 5 })).rejects.toMatchObject({ code: Code.Internal });
    await expect(batcher.submit({ id: "empty", rows: 0 })).rejects.toMatchObject({ code: Code.Internal });
    expect(calls).toHaveLength(0);
    expect(batcher.queuedRows).toBe(0);
  });

  it("runs at most maxConcurrency batches at once", async () => {
    const { calls, batcher, complete } = setup({ maxBatchSize: 2, maxConcurrency: 2 });
    const results = ["a", "b", "c", "d", "e", "f"].map((id) => batcher.submit({ id }));
    await flush();
    expect(calls.map((c) => c.ids)).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(batcher.running).toBe(2);
    expect(batcher.queuedRows).toBe(2);
    await complete(calls[1]); // completion order does not matter
    expect(calls.map((c) => c.ids)).toEqual([
      ["a", "b"],
      ["c", "d"],
      ["e", "f"],
    ]);
    expect(batcher.running).toBe(2);
    await complete(calls[0]);
    expect(batcher.running).toBe(1);
    await complete(calls[2]);
    expect(await Promise.all(results)).toEqual(["r-a", "r-b", "r-c", "r-d", "r-e", "r-f"]);
    expect(batcher.running).toBe(0);
  });

  it("with maxBatchesPerDispatch takes up to that many batches at once, then waits for the slot", async () => {
    const { calls, batcher, complete } = setup({ maxBatchSize: 2, maxBatchesPerDispatch: 2 });
    const results = ["a", "b", "c", "d", "e", "f", "g"].map((id) => batcher.submit({ id }));
    await flush();
    expect(calls.map((c) => c.ids)).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(batcher.running).toBe(2);
    await complete(calls[0]);
    expect(calls).toHaveLength(2); // the slot is free when the whole dispatch is done
    await complete(calls[1]);
    expect(calls.map((c) => c.ids).slice(2)).toEqual([["e", "f"], ["g"]]);
    await complete(calls[2]);
    await complete(calls[3]);
    expect(await Promise.all(results)).toEqual(["a", "b", "c", "d", "e", "f", "g"].map((id) => `r-${id}`));
    expect(() => setup({ maxBatchesPerDispatch: 0 })).toThrow(RangeError);
  });

  it("with maxBatchesPerDispatch and a delay sends full batches at once and holds the rest for its delay", async () => {
    const { clock, calls, batcher, complete } = setup({ maxBatchSize: 2, maxQueueDelayUs: 1000, maxBatchesPerDispatch: 8 });
    const results = ["a", "b", "c", "d", "e"].map((id) => batcher.submit({ id }));
    await flush();
    expect(calls.map((c) => c.ids)).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(batcher.queuedRows).toBe(1);
    await complete(calls[0]);
    await complete(calls[1]);
    expect(calls).toHaveLength(2); // "e" has not waited 1 ms yet
    await clock.advance(1);
    expect(calls.map((c) => c.ids)[2]).toEqual(["e"]);
    await complete(calls[2]);
    expect(await Promise.all(results)).toEqual(["a", "b", "c", "d", "e"].map((id) => `r-${id}`));
  });

  it("fails only the batch whose execute failed", async () => {
    const { calls, batcher, complete } = setup({ maxBatchSize: 2 });
    const first = ["a", "b"].map((id) => track(batcher.submit({ id })));
    const second = ["c", "d"].map((id) => track(batcher.submit({ id })));
    const third = batcher.submit({ id: "e" });
    await flush();
    const boom = new Error("onnxruntime exploded");
    calls[0].reject(boom);
    await flush();
    expect(first.map((s) => s.error)).toEqual([boom, boom]);
    calls[1].resolve(["only one result"]); // wrong count
    await flush();
    expect(second.map((s) => codeOf(s.error))).toEqual([Code.Internal, Code.Internal]);
    await complete(calls[2]);
    expect(await third).toBe("r-e");
  });

  it("treats a synchronous throw from execute like a rejection", async () => {
    const boom = new Error("sync");
    let fail = true;
    const throwing = new DynamicBatcher<Item, string>({
      maxBatchSize: 2,
      maxQueueDelayUs: 0,
      maxQueueRows: 10,
      rowsOf: () => 1,
      execute: (items) => {
        if (fail) throw boom;
        return Promise.resolve(items.map((i) => i.id));
      },
    });
    await expect(throwing.submit({ id: "a" })).rejects.toBe(boom);
    fail = false;
    expect(await throwing.submit({ id: "b" })).toBe("b"); // and the next batch still runs
  });

  it("drain() stops accepting, finishes queued and running work, then resolves", async () => {
    const { clock, calls, batcher, complete } = setup({ maxBatchSize: 2, maxQueueDelayUs: 60_000_000 });
    const full = ["a", "b"].map((id) => batcher.submit({ id })); // full: runs at once
    await flush();
    const waiting = batcher.submit({ id: "c" }); // would wait a minute for company
    await flush();
    expect(calls).toHaveLength(1);
    const drained = track(batcher.drain());
    await expect(batcher.submit({ id: "late" })).rejects.toMatchObject({ code: Code.Unavailable });
    await complete();
    expect(calls.map((c) => c.ids)).toEqual([["a", "b"], ["c"]]); // flushed without the delay
    expect(drained.settled).toBe(false);
    await complete();
    expect(drained.settled).toBe(true);
    expect(await Promise.all([...full, waiting])).toEqual(["r-a", "r-b", "r-c"]);
    expect(clock.pending).toBe(0);
    await batcher.drain(); // idle: resolves at once
  });
});

describe("systemClock", () => {
  it("fires timers after the delay and not once cancelled", async () => {
    const start = systemClock.now();
    const fired: string[] = [];
    systemClock.setTimer(() => fired.push("kept"), 5);
    systemClock.setTimer(() => fired.push("cancelled"), 5).cancel();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fired).toEqual(["kept"]);
    expect(systemClock.now() - start).toBeGreaterThanOrEqual(5);
  });
});

describe("DynamicBatcher on the real clock", () => {
  it("puts requests that arrive in one event-loop iteration into one batch", async () => {
    const batches: string[][] = [];
    const batcher = new DynamicBatcher<string, string>({
      maxBatchSize: 8,
      maxQueueDelayUs: 0,
      maxQueueRows: 64,
      rowsOf: () => 1,
      execute: async (items) => {
        batches.push(items);
        return items;
      },
      clock: systemClock,
    });
    // Each request is submitted from a later callback of the same iteration,
    // as requests read from different connections are.
    const first = batcher.submit("a");
    await Promise.resolve();
    const second = batcher.submit("b");
    process.nextTick(() => void batcher.submit("c"));
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later iteration
    const late = batcher.submit("d");
    expect(await Promise.all([first, second, late])).toEqual(["a", "b", "d"]);
    expect(batches).toEqual([["a", "b", "c"], ["d"]]);
  });
});
