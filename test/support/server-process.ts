// The real entry point as a child process, as an operator runs it: a free
// port, an env without the developer's settings, both pipes drained, and a
// way to stop every process a test started even if it fails midway.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { HEALTH_CHECK_PATH, postRaw } from "./connect-json.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** An env without any of the server's settings from the developer's shell. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of [
    "PORT",
    "METRICS_PORT",
    "HOST",
    "API_KEYS",
    "API_KEYS_FILE",
    "MODEL_REPOSITORY",
    "MAX_BATCH_INPUTS",
    "MAX_MESSAGE_BYTES",
    "CORS_ORIGINS",
    "LOG_LEVEL",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_CLIENT_CA_FILE",
    "ORT_DISABLE_TELEMETRY",
  ]) {
    delete env[k];
  }
  return { ...env, ...extra };
}

export { freePort } from "./free-port.js";

export interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code and signal, once the process has exited and its output is read. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Polls Health Check over Connect JSON until it says SERVING. */
  waitUntilServing(baseUrl: string, timeoutMs: number): Promise<void>;
}

const children: ChildProcess[] = [];

export function run(command: string, args: string[], env: Record<string, string>): Child {
  // Own process group, so that cleanup can stop everything it started even if a test fails midway.
  const proc = spawn(command, args, { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.push(proc);
  let out = "";
  let err = "";
  // Always drain both pipes: pino writes synchronously and would block on a full pipe.
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("close", (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitUntilServing(baseUrl, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`process exited (${proc.exitCode ?? proc.signalCode}) before serving; stdout:\n${out}\nstderr:\n${err}`);
        }
        const status = await postRaw(baseUrl, HEALTH_CHECK_PATH, "{}").then(
          (r) => r.json?.status,
          () => undefined,
        );
        if (status === "SERVING") return;
        if (Date.now() > deadline) throw new Error(`not SERVING within ${timeoutMs} ms (last: ${status}); stdout:\n${out}\nstderr:\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Kills (SIGKILL, whole process group) every process run() started that is still running. */
export function killChildren(): void {
  for (const proc of children.splice(0)) {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid) {
      try {
        process.kill(-proc.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
