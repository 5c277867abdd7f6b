// The process logger: JSON lines on stdout, one per event.
import pino, { type Logger } from "pino";

export function createLogger(level: string): Logger {
  // Asynchronous stdout: under load, lines written while one write is in
  // flight go out together, instead of one blocking write per call.
  const stdout = pino.destination({ dest: 1, sync: false });
  return pino({
    level,
    base: { service: "prediction-server", pid: process.pid },
    // No redaction pass: log lines are built field by field and never hold
    // headers, keys or payloads (pino's redaction costs time on every line).
  }, stdout);
}
