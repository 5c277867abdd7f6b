// A pino destination that keeps log lines in memory and writes them to a file
// descriptor in one write(2) once enough are waiting. pino's own destination
// (sonic-boom) does the same with `minLength`, but it measures the whole
// waiting string (Buffer.byteLength, which flattens it) on every line: about
// half of a log call's CPU (0.87 of 1.84 us in a loop). Here a line costs an
// array push.
//
// Two things a batch must not do:
// - Stall the event loop when the reader is behind. Node makes a stdout pipe
//   non-blocking (a Worker's stdout is piped to it), so a batch as large as
//   the pipe meets EAGAIN whenever the reader has not emptied it; waiting
//   there cost ~1 ms of serving per batch. What the descriptor does not take
//   now waits here and is tried again shortly; only past `maxPendingBytes`
//   (a reader that stopped) does a write wait for it.
// - Cut lines of other processes writing to the same pipe (WORKERS=n shares
//   stdout). A pipe takes a write of at most PIPE_BUF bytes whole or not at
//   all, so with `atomicBytes` each write(2) carries whole lines within it.
import { writeSync } from "node:fs";

/** Linux's PIPE_BUF: the most a pipe writes in one piece. */
export const PIPE_BUF = 4096;

export interface LineBufferOptions {
  /** Write once this many characters are waiting (flush() writes whatever is). */
  minChars: number;
  /** Each write(2) holds whole lines within this many bytes (a longer line goes alone); by default, no limit. */
  atomicBytes?: number;
  /** Bytes kept for a reader that is behind before writes wait for it. */
  maxPendingBytes?: number;
  /** How soon writing is tried again when the descriptor took less than all, in ms. */
  retryMs?: number;
}

const DEFAULT_MAX_PENDING = 4 * 1024 * 1024;
const DEFAULT_RETRY_MS = 2;

export class LineBuffer {
  private lines: string[] = [];
  /** UTF-16 length of the waiting lines: close enough to bytes for a threshold. */
  private waiting = 0;
  /** Bytes the descriptor did not take yet, in order, each a write of its own. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private retry: NodeJS.Timeout | undefined;
  private failed = false;
  private readonly minChars: number;
  private readonly atomicBytes: number;
  private readonly maxPendingBytes: number;
  private readonly retryMs: number;

  constructor(
    private readonly fd: number,
    options: LineBufferOptions,
  ) {
    this.minChars = options.minChars;
    this.atomicBytes = options.atomicBytes ?? Infinity;
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  }

  write(line: string): boolean {
    this.lines.push(line);
    this.waiting += line.length;
    if (this.waiting >= this.minChars) this.send(false);
    return true;
  }

  /** Writes what is waiting without waiting for a slow reader (what it does not take is tried again soon). */
  flushSoon(): void {
    this.send(false);
  }

  /** Writes every waiting line now, waiting for the reader if need be; then calls `done` (pino's logger.flush(cb) passes one). */
  flush(done?: () => void): void {
    this.send(true);
    done?.();
  }

  /** Bytes waiting for a reader that is behind (for tests and diagnostics). */
  get pendingByteCount(): number {
    return this.pendingBytes;
  }

  private send(wait: boolean): void {
    if (this.lines.length > 0) {
      for (const chunk of this.chunks()) {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
      }
      this.lines = [];
      this.waiting = 0;
    }
    this.writePending(wait || this.pendingBytes > this.maxPendingBytes);
    if (this.pending.length > 0 && this.retry === undefined) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.send(false);
      }, this.retryMs);
      // A quiet process may exit meanwhile: the exit handler writes the rest.
      this.retry.unref();
    }
  }

  /** The waiting lines as buffers to write, each within atomicBytes unless a single line is longer. */
  private chunks(): Buffer[] {
    if (this.atomicBytes === Infinity) return [Buffer.from(this.lines.length === 1 ? this.lines[0]! : this.lines.join(""), "utf8")];
    const out: Buffer[] = [];
    let group: string[] = [];
    let bytes = 0;
    for (const line of this.lines) {
      const size = Buffer.byteLength(line, "utf8");
      if (group.length > 0 && bytes + size > this.atomicBytes) {
        out.push(Buffer.from(group.join(""), "utf8"));
        group = [];
        bytes = 0;
      }
      group.push(line);
      bytes += size;
    }
    if (group.length > 0) out.push(Buffer.from(group.join(""), "utf8"));
    return out;
  }

  private writePending(wait: boolean): void {
    while (this.pending.length > 0) {
      const chunk = this.pending[0]!;
      let written: number;
      try {
        written = writeSync(this.fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
          if (!wait) return;
          Atomics.wait(PAUSE, 0, 0, 1);
          continue;
        }
        // The log is gone (closed pipe, full disk): serving goes on without it.
        if (!this.failed) {
          this.failed = true;
          process.stderr.write(`log lines could not be written and are dropped: ${(err as Error).message}\n`);
        }
        this.pending = [];
        this.pendingBytes = 0;
        return;
      }
      this.pendingBytes -= written;
      if (written === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(written);
    }
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));
