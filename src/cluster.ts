// WORKERS=n: n server processes share the one port through node:cluster (the
// primary accepts connections and hands them out round-robin). The primary
// serves nothing itself: it starts the workers, replaces one that dies, and
// passes SIGTERM/SIGINT on so each drains gracefully (and SIGHUP, so each
// re-reads API_KEYS_FILE), and collects the
// processes' metrics for a scrape that reaches any one of them.
import cluster from "node:cluster";
import type { Logger } from "pino";
import { serveClusterMetrics } from "./metrics/cluster-metrics.js";

const RESTART_DELAY_MS = 1000;

export function runPrimary(workers: number, logger: Logger, env: Record<string, string>): void {
  let stopping = false;
  // Processes started and not yet exited, counted here: cluster.workers keeps
  // a process that has exited until its IPC channel has closed too, so the
  // last one's exit may still find it listed.
  let running = 0;
  serveClusterMetrics();
  const fork = () => {
    running++;
    cluster.fork(env);
  };
  for (let i = 0; i < workers; i++) fork();
  cluster.on("exit", (worker, code, signal) => {
    running--;
    if (stopping) {
      if (running === 0) {
        logger.info("all server processes stopped");
        logger.flush(() => process.exit(0));
      }
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, "server process exited; starting another");
    // A short delay keeps a process that dies at start from spinning.
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: running }, "shutting down server processes");
    for (const w of Object.values(cluster.workers ?? {})) if (!w?.isDead()) w?.process.kill(signal);
    if (running === 0) process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGHUP");
  });
}

export const isPrimary = () => cluster.isPrimary;
