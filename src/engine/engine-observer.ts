// What the engine reports as it works. ServerMetrics implements it; tests
// and tools may pass anything with the same shape, or nothing.
export interface EngineObserver {
  observeBatch(b: { model: string; version: string; rows: number; queueSeconds: number[]; computeSeconds: number }): void;
  setQueueDepth(model: string, version: string, rows: number): void;
  setModelStates(states: Array<{ model: string; version: string; state: "loading" | "ready" | "failed" | "unloading" }>): void;
  countLoadFailure(model: string, version: string): void;
  countShed(model: string, version: string): void;
}
