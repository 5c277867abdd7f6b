// Holds one served model and its state. Handlers ask it for the model; while
// the model is loading or failed they get UNAVAILABLE, never a crash.
import { Code, ConnectError } from "@connectrpc/connect";

export type ModelState = "loading" | "ready" | "failed";

export class ModelSlot<M> {
  private model: M | undefined;
  private listeners = new Set<(state: ModelState) => void>();
  state: ModelState = "loading";
  /** Why the last load failed, for operators (never sent to clients). */
  error: string | undefined;

  constructor(readonly name: string) {}

  /** The model, or UNAVAILABLE while there is none. */
  require(): M {
    if (this.model === undefined) {
      throw new ConnectError(`model ${this.name} is not available (${this.state}) - retry later`, Code.Unavailable);
    }
    return this.model;
  }

  /** The model being served, if any. */
  current(): M | undefined {
    return this.model;
  }

  setReady(model: M): void {
    this.model = model;
    this.error = undefined;
    this.update("ready");
  }

  setFailed(error: string): void {
    this.error = error;
    // A failed reload keeps the model already serving.
    this.update(this.model === undefined ? "failed" : "ready");
  }

  onChange(listener: (state: ModelState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private update(state: ModelState): void {
    this.state = state;
    for (const l of this.listeners) l(state);
  }
}
