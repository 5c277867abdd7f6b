// How a call's end reaches the work it started (a queued inference, a
// deadline race). The engine asks only for this much, which an AbortSignal
// has and so does the fast path's CallCancellation.
//
// Why not an AbortController per call: Node's AbortSignal is an EventTarget
// that survives young-generation GCs, and drags whatever its listeners
// reference along into the old generation (docs/design.md, "Per-call cancellation").

/** The part of AbortSignal that the engine and the services use. */
export interface Cancellation {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

/**
 * A one-shot cancellation: `abort(reason)` runs each listener once, in the
 * order added; listeners added after that are never run (as with
 * AbortSignal). It is its own signal.
 */
export class CallCancellation implements Cancellation {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  get signal(): Cancellation {
    return this;
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (this.aborted) return;
    this.listeners ??= [];
    this.listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const i = listeners.indexOf(listener);
    if (i >= 0) listeners.splice(i, 1);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (err) {
        // As an EventTarget does: the other listeners still run, and the
        // error surfaces as an uncaught exception, not in abort()'s caller.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
