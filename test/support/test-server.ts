// Starts the real server, in this process, on a real socket (port 0), with a
// logger whose lines the test can read.
import { Writable } from "node:stream";
import pino from "pino";
import { loadConfig } from "../../src/config.js";
import { startServer, type RunningServer, type StartOptions } from "../../src/server.js";

export const API_KEY = "test-key-alpha";
export const OTHER_API_KEY = "test-key-beta";

export interface TestServer extends RunningServer {
  baseUrl: string;
  /** Where GET /metrics is served (METRICS_PORT, a free port here): not on baseUrl. */
  metricsBaseUrl: string;
  /** Every log line written so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log text, to check that nothing secret was written. */
  rawLogs(): string;
}

export async function startTestServer(env: Record<string, string> = {}, options: StartOptions = {}): Promise<TestServer> {
  const config = loadConfig({
    PORT: "0",
    METRICS_PORT: "0",
    HOST: "127.0.0.1",
    API_KEYS: `${API_KEY},${OTHER_API_KEY}`,
    MODEL_REPOSITORY: "./models",
    // vitest runs the protocol suites once with the unary fast path and once without.
    FAST_PATH: process.env.FAST_PATH ?? "1",
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  let raw = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      raw += chunk.toString();
      for (const line of chunk.toString().split("\n")) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const server = await startServer(config, pino({ level: "info" }, sink), options);
  await server.modelsLoaded;
  return { ...server, baseUrl: `http://127.0.0.1:${server.port}`, metricsBaseUrl: `http://127.0.0.1:${server.metricsPort}`, logs, rawLogs: () => raw };
}
