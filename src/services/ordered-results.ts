// Answers that are computed concurrently but must be sent in request order.
// The producer pushes promises; the consumer iterates them in push order.
export class OrderedResults<T> {
  private readonly queue: Promise<T>[] = [];
  private closed = false;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  private roomWaiters: Array<() => void> = [];

  /** Answers pushed but not yet taken by the consumer. */
  get pending(): number {
    return this.queue.length;
  }

  push(result: Promise<T>): void {
    result.catch(() => {}); // handled when consumed; never an unhandled rejection
    this.queue.push(result);
    this.notify();
  }

  /** No more answers will come. */
  close(): void {
    this.closed = true;
    this.notify();
  }

  /** End the consumer with this error, after the answers already pushed. */
  fail(error: unknown): void {
    this.failure = { error };
    this.notify();
  }

  /** Resolves when fewer than `limit` answers are pending (backpressure for the producer). */
  async room(limit: number): Promise<void> {
    while (this.queue.length >= limit) await new Promise<void>((r) => this.roomWaiters.push(r));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const head = this.queue[0];
      if (head) {
        const value = await head;
        this.queue.shift();
        const waiters = this.roomWaiters;
        this.roomWaiters = [];
        for (const w of waiters) w();
        yield value;
        continue;
      }
      if (this.failure) throw this.failure.error;
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
