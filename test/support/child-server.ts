// The real server in a process of its own (from src/, through tsx), for
// tests that measure the server process itself, e.g. its resident memory.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { HEALTH_CHECK_PATH, postRaw } from "./connect-json.js";
import { freePort } from "./free-port.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ChildServer {
  baseUrl: string;
  /** Resident memory now, in bytes (VmRSS). */
  rss(): number;
  /** Starts a new peak: from now on peakRss() is the highest RSS since this call. */
  resetPeak(): void;
  /** Highest resident memory since resetPeak() (VmHWM), in bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

/** Starts the server on a free port and waits until it is SERVING. */
export async function startChildServer(env: Record<string, string>): Promise<ChildServer> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => proc.once("close", () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const status = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
    if (!m) throw new Error(`no ${name} in /proc/${proc.pid}/status`);
    return Number(m[1]) * 1024;
  };
  const stop = async () => {
    proc.kill("SIGKILL");
    await exited;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}): ${stderr}`);
    const serving = await postRaw(baseUrl, HEALTH_CHECK_PATH, "{}").then(
      (r) => r.json?.status === "SERVING",
      () => false,
    );
    if (serving) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server not SERVING within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    rss: () => status("VmRSS"),
    // Writing 5 to clear_refs resets the peak resident set size (Linux).
    resetPeak: () => writeFileSync(`/proc/${proc.pid}/clear_refs`, "5"),
    peakRss: () => status("VmHWM"),
    stop,
  };
}
