// The process logger: JSON lines on stdout, one per event (LOG_FORMAT=pretty:
// human-readable lines instead, for a terminal).
import pino, { type Logger, type LoggerOptions as PinoOptions } from "pino";
import pretty from "pino-pretty";
import type { LogFormat } from "./config.js";
import { LineBuffer, PIPE_BUF } from "./line-buffer.js";

/** Longest a buffered log line waits before it is written, in ms. */
const FLUSH_INTERVAL_MS = 100;

export interface LoggerOptions {
  /** Other processes write to the same stdout (WORKERS=n): each write then holds whole lines within PIPE_BUF. */
  sharedOutput?: boolean;
  /** Default "json". */
  format?: LogFormat;
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const settings: PinoOptions = {
    level,
    base: { service: "prediction-server", pid: process.pid },
    // No redaction pass: log lines are built field by field and never hold
    // headers, keys or payloads (pino's redaction costs time on every line).
  };
  if (options.format === "pretty") {
    // pino-pretty's formatter called on each line as it is logged, written
    // synchronously: its stream form formats later, and loses the last
    // lines when the process exits. For a person at a terminal, so no
    // buffering as below; colour only on a terminal.
    const prettify = pretty.prettyFactory({ colorize: Boolean(process.stdout.isTTY), ignore: "service", translateTime: "SYS:HH:MM:ss.l" });
    const out = pino.destination({ dest: 1, sync: true });
    return pino(settings, { write: (line: string) => void out.write(prettify(line)) });
  }
  // Buffered stdout: lines collect until 32 KiB, then go out in one write(2):
  // a write per line, each waking a pipe's reader, costs CPU on every call.
  // Half a pipe, because a batch as large as the pipe rarely fits whole
  // (short writes, EAGAIN). Synchronous, as pino's default destination is:
  // libuv's thread pool costs more per write (docs/design.md, "Logging").
  // A timer bounds how long a quiet server holds a line, and what is left is
  // written when the process exits; a hard kill can lose the last 100 ms of
  // lines. Processes sharing stdout write at most PIPE_BUF bytes at a time,
  // whole lines only, so that no process cuts into another's line.
  const stdout = new LineBuffer(1, { minChars: 32 * 1024, atomicBytes: options.sharedOutput ? PIPE_BUF : undefined });
  setInterval(() => stdout.flushSoon(), FLUSH_INTERVAL_MS).unref();
  process.once("exit", () => stdout.flush());
  return pino(settings, stdout);
}
