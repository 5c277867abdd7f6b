// The process logger: JSON lines on stdout, one per event.
import pino, { type Logger } from "pino";

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "prediction-server" },
    // Belt and braces: if headers ever reach a log line, keys do not.
    redact: { paths: ["*.headers['x-api-key']", "*.headers.authorization", "apiKeys"], censor: "[redacted]" },
  });
}
