import { HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";

/** Called with the service name and its new status, only on an actual change. */
export type HealthListener = (service: string, status: ServingStatus) => void;

/**
 * The serving status of each service, keyed by fully qualified service name;
 * "" stands for the whole server. Plain state with change notification, so
 * the model loader, the shutdown path and the gRPC health service can share
 * it without knowing about each other.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Set<HealthListener>();
  // After shutdown() the answer must stay NOT_SERVING while connections drain,
  // even if e.g. a model finishes loading and calls set(..., SERVING).
  private shuttingDown = false;

  /**
   * @param initial starting statuses; by default the whole server ("") is
   * SERVING, as the gRPC health spec expects a server to report for "".
   */
  constructor(initial: Iterable<[string, ServingStatus]> = [["", ServingStatus.SERVING]]) {
    for (const [service, status] of initial) this.statuses.set(service, status);
  }

  /** The status of a service, or undefined if the service is not known. */
  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Sets a service's status and notifies watchers if it changed. Ignored after shutdown(). */
  set(service: string, status: ServingStatus): void {
    if (this.shuttingDown) return;
    this.update(service, status);
  }

  /** Marks every known service but `keep` NOT_SERVING, for good, so load balancers stop routing here. */
  shutdown(keep: readonly string[] = []): void {
    this.shuttingDown = true;
    for (const service of [...this.statuses.keys()]) {
      if (!keep.includes(service)) this.update(service, ServingStatus.NOT_SERVING);
    }
  }

  /** Calls `listener` on every change of any service; returns the unsubscribe function. */
  subscribe(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Number of active subscriptions; lets tests and metrics see that watchers are released. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * The status of one service now (undefined if unknown), then each change,
   * until `signal` aborts or the consumer stops iterating. A slow consumer
   * gets the latest status rather than a backlog: for health only the
   * current value matters, and a queue could grow without bound.
   */
  async *watch(service: string, signal?: AbortSignal): AsyncGenerator<ServingStatus | undefined> {
    if (signal?.aborted) return;
    let latest = this.get(service);
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe((changed, status) => {
      if (changed !== service) return;
      latest = status;
      wake?.();
    });
    const onAbort = () => wake?.();
    signal?.addEventListener("abort", onAbort);
    try {
      let sent = latest;
      yield sent;
      for (;;) {
        // Wait for a change or for the abort; both resolve the same promise.
        while (latest === sent && !signal?.aborted) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        if (signal?.aborted) return;
        sent = latest;
        yield sent;
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private update(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    // Copy: a listener may unsubscribe itself while we iterate.
    for (const listener of [...this.listeners]) listener(service, status);
  }
}
