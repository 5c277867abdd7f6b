// What the engine reports as it works. ServerMetrics implements it; tests
// and tools may pass anything with the same shape, or nothing.

/** A model version's life: loading, then ready or failed; unloading once replaced or removed. */
export const VERSION_STATES = ["loading", "ready", "failed", "unloading"] as const;
export type VersionState = (typeof VERSION_STATES)[number];

export interface VersionStateReport {
  model: string;
  version: string;
  state: VersionState;
}

export interface EngineObserver {
  observeBatch(b: { model: string; version: string; rows: number; queueSeconds: number[]; computeSeconds: number }): void;
  setQueueDepth(model: string, version: string, rows: number): void;
  setModelStates(states: VersionStateReport[]): void;
  countLoadFailure(model: string, version: string): void;
  countShed(model: string, version: string): void;
}
