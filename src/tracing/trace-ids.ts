// Random W3C ids, with a way to hand the SDK a trace id chosen beforehand: the
// server draws a root call's trace id and asks the sampler first, and only a
// sampled call goes on to the SDK, which must then use that very id.
import { randomFillSync } from "node:crypto";
import type { IdGenerator } from "@opentelemetry/sdk-trace-node";

// Random bytes drawn in blocks: one system call per many ids.
const POOL_BYTES = 4096;

export class ChosenTraceIds implements IdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private used = POOL_BYTES;
  private chosen: string | undefined;

  /** A new random trace id that the next generateTraceId() returns. */
  choose(): string {
    this.chosen = this.hex(16);
    return this.chosen;
  }

  /** Forgets the chosen id (its call was not sampled). */
  forget(): void {
    this.chosen = undefined;
  }

  generateTraceId = (): string => {
    const id = this.chosen ?? this.hex(16);
    this.chosen = undefined;
    return id;
  };

  generateSpanId = (): string => this.hex(8);

  private hex(bytes: number): string {
    if (this.used + bytes > POOL_BYTES) {
      randomFillSync(this.pool);
      this.used = 0;
    }
    const start = this.used;
    this.used += bytes;
    // An all-zero id is invalid (W3C): practically never drawn, and then made valid.
    for (let i = start; i < start + bytes; i++) if (this.pool[i] !== 0) return this.pool.toString("hex", start, start + bytes);
    this.pool[start + bytes - 1] = 1;
    return this.pool.toString("hex", start, start + bytes);
  }
}
