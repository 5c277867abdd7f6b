// The fast path's per-call cancellation, as a plain object, and the batcher
// honouring it the way it honours an AbortSignal.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CallCancellation } from "../src/cancellation.js";
import { DynamicBatcher } from "../src/engine/dynamic-batcher.js";

describe("CallCancellation", () => {
  it("runs each listener once, in order, with the reason set; removed and late listeners never run", () => {
    const c = new CallCancellation();
    const seen: string[] = [];
    const removed = () => seen.push("removed");
    c.addEventListener("abort", () => seen.push(`a:${String(c.reason)}`));
    c.addEventListener("abort", removed);
    c.addEventListener("abort", () => seen.push(`b:${c.aborted}`));
    c.removeEventListener("abort", removed);
    expect(c.aborted).toBe(false);
    c.abort("gone");
    c.abort("again");
    c.addEventListener("abort", () => seen.push("late"));
    expect(seen).toEqual(["a:gone", "b:true"]);
    expect(c.reason).toBe("gone");
    expect(c.signal).toBe(c);
  });

  it("still runs the other listeners when one throws, and rethrows the error on its own", () => {
    const c = new CallCancellation();
    const ran: number[] = [];
    c.addEventListener("abort", () => {
      throw new Error("listener bug");
    });
    c.addEventListener("abort", () => ran.push(2));
    // The error is rethrown from a microtask (an uncaught exception, as from
    // an EventTarget listener); catch that microtask here instead of crashing.
    const deferred: Array<() => void> = [];
    const original = globalThis.queueMicrotask;
    globalThis.queueMicrotask = (fn) => void deferred.push(fn);
    try {
      expect(() => c.abort(undefined)).not.toThrow();
    } finally {
      globalThis.queueMicrotask = original;
    }
    expect(ran).toEqual([2]);
    expect(deferred).toHaveLength(1);
    expect(deferred[0]).toThrow("listener bug");
  });

  it("drops a queued batcher item when aborted, with the reason's RPC code", async () => {
    let release!: () => void;
    const batcher = new DynamicBatcher<string, string>({
      maxBatchSize: 1,
      maxQueueDelayUs: 0,
      maxQueueRows: 10,
      rowsOf: () => 1,
      execute: (items) => new Promise((resolve) => (release = () => resolve(items))),
    });
    const running = batcher.submit("first");
    const c = new CallCancellation();
    const queued = batcher.submit("second", { signal: c });
    await new Promise((resolve) => setImmediate(resolve)); // the batcher dispatches "first" at the end of the loop iteration
    expect(batcher.queuedRows).toBe(1);
    c.abort(new ConnectError("the client cancelled the call", Code.Canceled));
    await expect(queued).rejects.toMatchObject({ code: Code.Canceled });
    expect(batcher.queuedRows).toBe(0);
    release();
    await expect(running).resolves.toBe("first");
  });
});
