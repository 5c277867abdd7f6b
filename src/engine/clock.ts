// Time as the engine sees it. Schedulers take a Clock instead of calling
// performance.now/setTimeout directly so tests can drive them with a fake
// clock, deterministically and without sleeping.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic (never jumps with wall-clock changes). */
  now(): number;
  /** Calls fn once, ms from now, unless cancelled first. */
  setTimer(fn: () => void, ms: number): Timer;
  /** Calls fn once the current event-loop iteration has read its I/O (setImmediate: Node's check phase). */
  defer(fn: () => void): void;
}

/**
 * The real clock. Timers are ordinary (not unref'd): a pending timer means
 * work is queued and waiting, and the process must stay alive to run it.
 * Users cancel timers they no longer need so an idle process can still exit.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(handle) };
  },
  defer(fn) {
    setImmediate(fn);
  },
};
