// Which calls with no incoming trace are sampled at a trace-id ratio: runs of
// consecutive calls, at random intervals, that ratio of all calls overall.
// A sampled call's work (ids, spans, their records) done once in a hundred
// calls runs cold each time, at many times its cost in a run (docs/design.md,
// "Tracing"). Which root calls are sampled is the server's own choice: it
// draws their trace ids to match (ChosenTraceIds.drawWithin), so that the
// SDK's sampler and any caller's downstream decide the same from the id.

/** Sampled calls in a run. */
export const RUN_CALLS = 16;

export class RootRuns {
  /** Calls left in the current run. */
  private left = 0;
  /** Calls to pass over before the next run begins. */
  private skip: number;
  /** The mean number of calls between two runs. */
  private readonly meanGap: number;

  /** `ratio` in [0, 1]; `random` in [0, 1), as Math.random (a test's own). */
  constructor(
    ratio: number,
    private readonly runCalls = RUN_CALLS,
    private readonly random: () => number = Math.random,
  ) {
    // A run of n calls and a gap of n(1/ratio - 1) on average: ratio of all.
    this.meanGap = ratio > 0 ? runCalls * (1 / ratio - 1) : Number.POSITIVE_INFINITY;
    this.skip = this.gap();
  }

  /** Whether the next root call is sampled. */
  next(): boolean {
    if (this.left > 0) {
      this.left--;
      return true;
    }
    if (this.skip > 0) {
      this.skip--;
      return false;
    }
    this.left = this.runCalls - 1;
    this.skip = this.gap();
    return true;
  }

  /**
   * Exponential, so that runs come at no fixed period (none to fall in step
   * with a periodic load), rounded without bias: E[floor(x + u)] = x.
   */
  private gap(): number {
    if (this.meanGap === Number.POSITIVE_INFINITY) return this.meanGap;
    return Math.floor(this.meanGap * -Math.log(1 - this.random()) + this.random());
  }
}
