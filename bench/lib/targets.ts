// Starting and stopping the targets: each one a child process pinned to
// core 0 (`taskset -c 0`). The real server logs at info on stdout into a pipe
// this process drains (counting lines, keeping warnings and errors).
import { spawn, type ChildProcess } from "node:child_process";
import * as http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as Serving } from "../../gen/grpc/health/v1/health_pb.js";
import { grpcFrame, splitFrames } from "../../test/support/grpc-frames.js";
import { freePort } from "../../test/support/free-port.js";
import { rawGrpc } from "../../test/support/raw-grpc.js";
import { httpGet } from "./grpc-wire.js";
import { API_KEY } from "./fixtures.js";
import { ProcessSampler, type UsageWindow } from "./sampler.js";

export const SERVER_CORE = "0";
export const GENERATOR_CORE = "1";

export interface Target {
  name: string;
  pid: number;
  port: number;
  /** Where its /metrics is served: the server's own metrics port, or the API port of a build that serves them there. */
  metricsPort: number;
  proc: ChildProcess;
  /** performance.now() at spawn and when ready (SERVING, or LISTENING for the references). */
  spawnedAt: number;
  readyAt: number;
  log: LogDrain;
  /** Set once the process has exited. */
  exited(): { code: number | null; signal: string | null } | undefined;
  /** Resolves true if the process exits within `ms` (or already has). */
  exitsWithin(ms: number): Promise<boolean>;
  stop(): Promise<void>;
}

/** Drains a child's output: counts lines and bytes, keeps warn/error lines and the last lines. */
export class LogDrain {
  lines = 0;
  bytes = 0;
  readonly problems: string[] = [];
  readonly tail: string[] = [];
  private partial = "";

  consume(chunk: Buffer): void {
    this.bytes += chunk.length;
    const text = this.partial + chunk.toString("utf8");
    const parts = text.split("\n");
    this.partial = parts.pop() ?? "";
    this.lines += parts.length;
    // pino levels: 40 warn, 50 error, 60 fatal. Cheap substring test before keeping a line.
    if (/"level":[456]0/.test(text)) {
      for (const line of parts) if (/"level":[456]0/.test(line) && this.problems.length < 200) this.problems.push(line);
    }
    for (const line of parts.slice(-20)) {
      this.tail.push(line);
      if (this.tail.length > 20) this.tail.shift();
    }
  }

  consumeStderr(chunk: Buffer): void {
    for (const line of chunk.toString("utf8").split("\n")) if (line.trim() && this.problems.length < 200) this.problems.push(`[stderr] ${line}`);
  }
}

function pinned(core: string, argv: string[], env: NodeJS.ProcessEnv, cwd?: string): ChildProcess {
  // taskset execs the command: the child's pid is the pid of the target itself.
  return spawn("taskset", ["-c", core, ...argv], { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
}

function wrap(name: string, proc: ChildProcess, port: number, spawnedAt: number, readyAt: number, log: LogDrain, metricsPort = port): Target {
  let exit: { code: number | null; signal: string | null } | undefined;
  const exitedPromise = new Promise<void>((resolve) =>
    proc.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  if (proc.exitCode !== null) exit = { code: proc.exitCode, signal: null };
  return {
    name,
    pid: proc.pid!,
    port,
    metricsPort,
    proc,
    spawnedAt,
    readyAt,
    log,
    exited: () => exit,
    exitsWithin: (ms) => {
      if (exit) return Promise.resolve(true);
      return Promise.race([exitedPromise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    },
    async stop() {
      if (exit) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 8000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

export interface RealServerOptions {
  name: string;
  modelRepository: string;
  /** Extra environment (never used to turn features off for headline numbers). */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** The checkout whose built server runs (its dist/src/main.js); by default this one. */
  dir?: string;
}

/**
 * The real server, as `npm start` runs it but without npm: `node
 * dist/src/main.js` (built by the bench first), every feature on (API key
 * auth, validation, info logging, metrics), one process (WORKERS=1: it is
 * pinned to one core) with one inference worker, on a free port of 127.0.0.1.
 */
export async function startRealServer(opts: RealServerOptions): Promise<Target> {
  const port = await freePort();
  const metricsPort = await freePort();
  const env = {
    ...process.env,
    API_KEYS: API_KEY,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    HOST: "127.0.0.1",
    LOG_LEVEL: "info",
    WORKERS: "1",
    INFERENCE_WORKERS: "1",
    MODEL_REPOSITORY: opts.modelRepository,
    ...opts.env,
  };
  const log = new LogDrain();
  const spawnedAt = performance.now();
  const proc = pinned(SERVER_CORE, [process.execPath, "dist/src/main.js"], env, opts.dir);
  proc.stdout!.on("data", (c: Buffer) => log.consume(c));
  proc.stderr!.on("data", (c: Buffer) => log.consumeStderr(c));
  let earlyExit: string | undefined;
  proc.once("exit", (code, signal) => (earlyExit = `exited with code ${code} signal ${signal}`));
  const readyAt = await waitServing(port, opts.readyTimeoutMs ?? 60_000, () => earlyExit);
  if (readyAt === undefined) {
    proc.kill("SIGKILL");
    throw new Error(`${opts.name}: not SERVING (${earlyExit ?? "timed out"}); log tail:\n${[...log.problems, ...log.tail].join("\n")}`);
  }
  return wrap(opts.name, proc, port, spawnedAt, readyAt, log, await metricsPortOf(port, metricsPort));
}

/** METRICS_PORT when the build listens there; an older build (bench:compare) serves /metrics on its API port. */
async function metricsPortOf(port: number, metricsPort: number): Promise<number> {
  try {
    await httpGet(metricsPort, "/metrics", 2000);
    return metricsPort;
  } catch {
    return port;
  }
}

const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
const EMPTY_FRAME = grpcFrame(new Uint8Array(0));

/** One Health/Check over h2c: the serving status, or undefined if the call failed. */
export async function healthStatus(session: http2.ClientHttp2Session): Promise<Serving | undefined> {
  const r = await rawGrpc(session, { path: HEALTH_CHECK, frames: [EMPTY_FRAME], timeoutMs: 2000 });
  const [message, ...more] = splitFrames(r.body);
  if (r.grpcStatus !== 0 || !message || more.length) return undefined;
  return fromBinary(HealthCheckResponseSchema, message.data).status;
}

/**
 * Polls grpc.health.v1.Health/Check every 10 ms (new connection while the port
 * is closed) until it answers SERVING; returns performance.now() at that answer.
 */
export async function waitServing(port: number, timeoutMs: number, gaveUp: () => string | undefined): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMs;
  let session: http2.ClientHttp2Session | undefined;
  try {
    while (performance.now() < deadline && !gaveUp()) {
      if (!session || session.destroyed || session.closed) {
        session = http2.connect(`http://127.0.0.1:${port}`);
        session.on("error", () => {});
      }
      const status = await healthStatus(session).catch(() => undefined);
      if (status === Serving.SERVING) return performance.now();
      if (status === undefined) {
        session.destroy();
        session = undefined;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  } finally {
    session?.destroy();
  }
}

/** Node's argv for a script: TypeScript through tsx, JavaScript as plain `node` runs it in production. */
const nodeArgv = (script: string) => (script.endsWith(".ts") ? [process.execPath, "--import", "tsx", script] : [process.execPath, script]);

/** A reference server from bench/targets/: waits for its "LISTENING <port>" line. */
export async function startReference(name: string, script: string, args: string[], timeoutMs = 30_000): Promise<Target> {
  const log = new LogDrain();
  const spawnedAt = performance.now();
  const proc = pinned(SERVER_CORE, [...nodeArgv(script), ...args], process.env);
  proc.stderr!.on("data", (c: Buffer) => log.consumeStderr(c));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`${name}: no LISTENING line within ${timeoutMs} ms`)), timeoutMs);
    proc.stdout!.on("data", (c: Buffer) => {
      log.consume(c);
      buffered += c.toString("utf8");
      const m = /LISTENING (\d+)/.exec(buffered);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name}: exited with code ${code} before listening: ${log.problems.join("\n")}`));
    });
  });
  return wrap(name, proc, port, spawnedAt, performance.now(), log);
}

/** Runs a script pinned to core 0 to completion and returns its stdout (for the in-process reference). */
export function runPinnedScript(
  script: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; code: number | null; pid: number; usage: UsageWindow }> {
  return new Promise((resolve, reject) => {
    const proc = pinned(SERVER_CORE, [process.execPath, "--import", "tsx", script, ...args], process.env);
    const sampler = new ProcessSampler(proc.pid!, 200).start();
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    proc.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${script}: still running after ${timeoutMs} ms`));
    }, timeoutMs);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      sampler.stop();
      resolve({ stdout, stderr, code, pid: proc.pid!, usage: sampler.window() });
    });
  });
}

/** Marks a death caused by a signal from outside the bench (another user of the machine). */
export const EXTERNAL = "(sent by someone else)";

/** What a dead target said last on stderr (a crash's message and stack), in one line. */
export function lastWords(t: Target): string {
  const lines = t.log.problems
    .filter((l) => l.startsWith("[stderr]"))
    .slice(-14)
    .map((l) => l.slice(9).trim())
    .filter(Boolean);
  const exit = t.exited();
  // The server logs the signal it shuts down on: SIGTERM/SIGINT were not sent by the bench while a target was in use.
  const shutdown = t.log.tail.find((l) => l.includes('"msg":"shutting down"'));
  const signal = shutdown ? /"signal":"(\w+)"/.exec(shutdown)?.[1] : undefined;
  return (
    `${exit ? `exit code ${exit.code} signal ${exit.signal}` : "still running"}` +
    (signal ? `; graceful shutdown on ${signal} ${EXTERNAL}` : "") +
    (lines.length ? `; stderr: ${lines.join(" | ")}` : "")
  );
}
