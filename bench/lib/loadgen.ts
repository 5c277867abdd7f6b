// The load generators, pinned to core 1 (`taskset -c 1`), one thread each:
// h2load for HTTP/2 (gRPC over h2c), wrk for HTTP/1.1 (Connect JSON,
// gRPC-Web). Each run's own CPU use is sampled so a saturated generator shows.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { GENERATOR_CORE } from "./targets.js";
import { ProcessSampler } from "./sampler.js";

export interface GeneratorRun {
  /** The exact command line, for the report. */
  command: string;
  stdout: string;
  stderr: string;
  code: number | null;
  /** Epoch ms when the process started and ended. */
  startedAt: number;
  endedAt: number;
  /** The generator's own CPU and RSS, sampled over its life (window it to the measured period). */
  sampler: ProcessSampler;
}

export const epochMs = () => performance.timeOrigin + performance.now();

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function runPinned(argv: string[], timeoutMs: number): Promise<GeneratorRun> {
  const command = ["taskset", "-c", GENERATOR_CORE, ...argv].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const startedAt = epochMs();
    const proc = spawn("taskset", ["-c", GENERATOR_CORE, ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    const sampler = new ProcessSampler(proc.pid!, 100).start();
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    proc.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    proc.on("error", (e) => {
      clearTimeout(timer);
      sampler.stop();
      reject(e);
    });
    // "close", not "exit": the pipes may still hold output (the summary) when the process has exited.
    proc.on("close", (code) => {
      clearTimeout(timer);
      sampler.stop();
      resolve({ command, stdout, stderr, code, startedAt, endedAt: epochMs(), sampler });
    });
  });
}

/** HTTP/2 streams in flight → h2load connections × streams per connection: up to 16 connections, then more streams on each. */
export function h2loadShape(concurrency: number): { connections: number; streams: number } {
  const connections = Math.min(concurrency, 16);
  return { connections, streams: Math.ceil(concurrency / connections) };
}

export interface H2loadOptions {
  url: string;
  dataFile: string;
  headers: string[];
  concurrency: number;
  durationS: number;
  warmupS: number;
  logFile: string;
}

export function runH2load(o: H2loadOptions): Promise<GeneratorRun> {
  const { connections, streams } = h2loadShape(o.concurrency);
  const argv = [
    "h2load",
    "-t1",
    `-c${connections}`,
    `-m${streams}`,
    "-D",
    `${o.durationS}`,
    "--warm-up-time",
    `${Math.round(o.warmupS * 1000)}ms`,
    `--data=${o.dataFile}`,
    ...o.headers.flatMap((h) => ["-H", h]),
    `--log-file=${o.logFile}`,
    o.url,
  ];
  return runPinned(argv, (o.durationS + o.warmupS + 30) * 1000);
}

export interface WrkOptions {
  url: string;
  bodyFile: string;
  headers: string[];
  concurrency: number;
  durationS: number;
  /** Checks every answer's grpc-status (gRPC-Web): reads each body, so a little more generator CPU. */
  checkGrpcWeb: boolean;
}

const WRK_DIR = fileURLToPath(new URL("../wrk/", import.meta.url));

/** One wrk run: one thread, `concurrency` HTTP/1.1 connections, one request in flight on each. */
export function runWrk(o: WrkOptions): Promise<GeneratorRun> {
  const script = WRK_DIR + (o.checkGrpcWeb ? "post-grpc-web.lua" : "post.lua");
  const argv = ["wrk", "-t1", `-c${o.concurrency}`, `-d${o.durationS}s`, "--timeout", "10s", "-s", script, o.url, "--", o.bodyFile, ...o.headers];
  return runPinned(argv, (o.durationS + 30) * 1000);
}

/** The load generators and taskset, those not installed; installed by `apt-get install nghttp2-client wrk util-linux`. */
export function missingTools(): string[] {
  return ["taskset", "h2load", "wrk"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
}
