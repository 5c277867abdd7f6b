// A token bucket: `rate` tokens a second, holding at most `rate` (the burst).
// Each process keeps its own buckets: with WORKERS=n a key limited to N calls
// a second may make up to n x N across the processes (not shared, so no call
// waits on another process).

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    now: number = performance.now(),
  ) {
    this.tokens = rate;
    this.last = now;
  }

  /** Takes a token: 0 if there was one, otherwise the milliseconds until there will be (nothing taken). */
  take(now: number = performance.now()): number {
    if (now > this.last) {
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return ((1 - this.tokens) * 1000) / this.rate;
  }
}
