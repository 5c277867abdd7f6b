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
  serveClusterMetrics();
  const fork = () => cluster.fork(env);
  for (let i = 0; i < workers; i++) fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info("all server processes stopped");
        logger.flush(() => process.exit(0));
      }
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, "server process exited; starting another");
    // A short delay keeps a process that dies at start from spinning.
    setTimeout(fork, RESTART_DELAY_MS).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, "shutting down server processes");
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGHUP");
  });
}

export const isPrimary = () => cluster.isPrimary;
