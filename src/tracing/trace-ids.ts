// Random W3C ids, with a way to hand the SDK ids chosen beforehand: the server
// draws a root call's trace id and asks the sampler first, and gives a sampled
// call its span id at once (for its log line and child spans); the SDK, making
// the span later, must use those very ids.
import { randomFillSync } from "node:crypto";
import type { IdGenerator } from "@opentelemetry/sdk-trace-node";

// Random bytes drawn in blocks: one system call per many ids.
const POOL_BYTES = 4096;
const TRACE_ID_BYTES = 16;

export class ChosenTraceIds implements IdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private used = POOL_BYTES;
  /** Where the drawn trace id's bytes start in the pool; -1 when none is drawn. */
  private drawn = -1;
  /** What the SDK's next span takes, when set (see use). */
  private nextTraceId: string | undefined;
  private nextSpanId: string | undefined;

  /**
   * Draws a new random trace id whose ratio key (see ratioKey) is below
   * `bound`, kept as bytes: its first 12 bytes random, and the last 4 making
   * the key a random number below the bound. That is a random id among those
   * the SDK's TraceIdRatioBasedSampler samples at that bound (2^32: any id).
   */
  drawWithin(bound: number): void {
    const at = this.take(TRACE_ID_BYTES);
    this.drawn = at;
    if (bound >= 0x100000000) return;
    const pool = this.pool;
    // Some byte of the first 12 is not zero, so the id never is all zeros.
    if (pool.readUInt32BE(at) === 0 && pool.readUInt32BE(at + 4) === 0 && pool.readUInt32BE(at + 8) === 0) pool[at] = 1;
    // With the last word zero, ratioKey is the first three's XOR; the last word then makes it the key.
    pool.writeUInt32BE(0, at + 12);
    pool.writeUInt32BE((Math.floor(Math.random() * bound) ^ ratioKey(pool, at)) >>> 0, at + 12);
  }

  /** The drawn id as text. */
  drawnTraceId(): string {
    return this.pool.toString("hex", this.drawn, this.drawn + TRACE_ID_BYTES);
  }

  /**
   * The ids the SDK's next span gets (a trace id only if it is a root span),
   * then random ones again: the SDK makes a span recorded earlier with the
   * ids it was given then.
   */
  use(spanId: string | undefined, traceId?: string): void {
    this.nextSpanId = spanId;
    this.nextTraceId = traceId;
  }

  // Methods, not per-instance arrow functions: the SDK's code compiled for
  // the warm-up's instance (warm-up.ts) then fits the server's too.
  generateTraceId(): string {
    const id = this.nextTraceId ?? this.hex(TRACE_ID_BYTES);
    this.nextTraceId = undefined;
    return id;
  }

  generateSpanId(): string {
    const id = this.nextSpanId ?? this.hex(8);
    this.nextSpanId = undefined;
    return id;
  }

  /** A new random span id, for a call's span before the SDK makes it. */
  newSpanId(): string {
    return this.hex(8);
  }

  private hex(bytes: number): string {
    const start = this.take(bytes);
    return this.pool.toString("hex", start, start + bytes);
  }

  /** The offset of `bytes` fresh random bytes in the pool, never all zero (an invalid W3C id). */
  private take(bytes: number): number {
    if (this.used + bytes > POOL_BYTES) {
      randomFillSync(this.pool);
      this.used = 0;
    }
    const start = this.used;
    this.used += bytes;
    for (let i = start; i < start + bytes; i++) if (this.pool[i] !== 0) return start;
    // Practically never drawn, and then made valid.
    this.pool[start + bytes - 1] = 1;
    return start;
  }
}

/**
 * The number the SDK's TraceIdRatioBasedSampler compares with its bound: the
 * XOR of the id's four 32-bit words (it reads them from the hex text, eight
 * digits at a time).
 */
export function ratioKey(id: Buffer, at = 0): number {
  return (id.readUInt32BE(at) ^ id.readUInt32BE(at + 4) ^ id.readUInt32BE(at + 8) ^ id.readUInt32BE(at + 12)) >>> 0;
}

/** The SDK's TraceIdRatioBasedSampler bound for `ratio`: an id is sampled when its ratio key is below it. */
export function ratioBound(ratio: number): number {
  return ratio >= 1 ? 0x100000000 : ratio > 0 ? Math.floor(ratio * 0xffffffff) : 0;
}
