// npm run soak -- [--minutes 2]: a real server process under mixed load on
// every protocol plus PredictImage streams, while a new loan model version is
// deployed (hot swap) and a key is revoked. Prints calls, failures by code,
// and the server's RSS after warm-up and at the end; exits 1 on any failure
// that was not expected, if the new version never served, or if health is
// not SERVING at the end. Not part of CI: it is long by design.
import { readOptions } from "../../bench/lib/cli.js";
import { rssMiB } from "../../bench/lib/sampler.js";
import { HEALTH_CHECK_PATH, postRaw } from "../../test/support/connect-json.js";
import { freePort, killChildren, run, withTimeout } from "../../test/support/server-process.js";
import { renderShape, SHAPE_LABELS } from "../../test/support/shape-images.js";
import { REVOCABLE_KEY_NAME, soakKeys } from "./key-revocation.js";
import { Outcomes, runLoad } from "./load.js";
import { soakRepository } from "./model-swap.js";

const options = { minutes: 2, unary: 24, streams: 6 };

function usage(error?: string): never {
  if (error) console.error(error);
  console.error("usage: npm run soak -- [--minutes N (default 2)] [--unary N in flight (24)] [--streams N image streams (6)]");
  process.exit(error ? 2 : 0);
}

readOptions(process.argv.slice(2), usage, (o) => {
  if (o.flag === "--minutes") options.minutes = o.number(0.1);
  else if (o.flag === "--unary") options.unary = o.number(1, true);
  else if (o.flag === "--streams") options.streams = o.number(0, true);
  else usage(`unknown option ${o.flag}`);
});

const REVOCABLE = " [revocable key]";
/** A revoked key must be refused within this long. */
const REVOKED_WITHIN_MS = 5_000;
const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
const mib = (v: number | undefined) => (v === undefined ? "?" : `${v.toFixed(1)} MiB`);

async function main(): Promise<number> {
  const durationMs = options.minutes * 60_000;
  const repo = soakRepository();
  const keys = await soakKeys();
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = run(process.execPath, ["--import", "tsx", "src/main.ts"], {
    PORT: String(port),
    // Where /metrics has a port of its own, any free one: never a fixed port another server may hold.
    METRICS_PORT: "0",
    HOST: "127.0.0.1",
    WORKERS: "1",
    ...keys.env,
    MODEL_REPOSITORY: repo.dir,
    MODEL_POLL_INTERVAL_MS: "500",
    LOG_LEVEL: "warn",
  });
  try {
    await child.waitUntilServing(baseUrl, 60_000);
    const pid = child.proc.pid!;
    const images = await Promise.all(SHAPE_LABELS.map((label, i) => renderShape(label, i, 128)));
    const startedAt = Date.now();
    let stopped = false;
    let revokedAt: number | undefined;
    let revokeStartedAt: number | undefined;
    const out = new Outcomes();
    // One worker in five uses the key that gets revoked, spread over the clients.
    const keyFor = (w: number) => (w % 5 === 4 ? { key: keys.revocable, label: REVOCABLE } : { key: keys.main, label: "" });
    const load = runLoad({ baseUrl, keyFor, unaryWorkers: options.unary, streamWorkers: options.streams, images, startedAt, stopped: () => stopped }, out);
    console.log(
      `soak: ${options.minutes} min, ${options.unary} unary calls in flight on every protocol client + ${options.streams} PredictImage streams, server pid ${pid}`,
    );

    const warmupMs = Math.min(30_000, durationMs * 0.2);
    await sleepUntil(startedAt + warmupMs);
    const warmRss = rssMiB(pid);
    console.log(`  ${(warmupMs / 1000).toFixed(0)} s  warm-up done: ${out.total()} calls, RSS ${mib(warmRss)}`);

    const swapAt = startedAt + durationMs / 3;
    await sleepUntil(swapAt);
    repo.addVersion("loan-approval", "1", "2");
    console.log(`  ${((swapAt - startedAt) / 1000).toFixed(0)} s  hot swap: loan-approval/2 deployed`);

    await sleepUntil(startedAt + (2 * durationMs) / 3);
    if (keys.revoke) {
      revokeStartedAt = Date.now() - startedAt;
      await keys.revoke();
      revokedAt = Date.now() - startedAt;
      // Timed from when the command returns: the file is written at its end, after its own start-up.
      console.log(`  ${(revokedAt / 1000).toFixed(0)} s  key ${REVOCABLE_KEY_NAME} revoked (npm run keys -- revoke returned)`);
    } else {
      console.log(`  ${((Date.now() - startedAt) / 1000).toFixed(0)} s  key revocation NOT RUN: ${keys.notRunReason}`);
    }

    await sleepUntil(startedAt + durationMs);
    stopped = true;
    await withTimeout(load, 60_000, "the load's last calls");
    const endRss = rssMiB(pid);
    const health = await postRaw(baseUrl, HEALTH_CHECK_PATH, "{}").then(
      (r) => String(r.json?.status),
      (e: Error) => e.message,
    );
    return report(out, {
      warmRss,
      endRss,
      health,
      swapAtMs: swapAt - startedAt,
      revokedAtMs: revokedAt,
      revokeStartedAtMs: revokeStartedAt,
      seconds: (Date.now() - startedAt) / 1000,
    });
  } finally {
    child.proc.kill("SIGTERM");
    await withTimeout(child.exited, 20_000, "server exit").catch(() => killChildren());
    repo.remove();
    keys.remove();
  }
}

interface RunFacts {
  warmRss?: number;
  endRss?: number;
  health: string;
  swapAtMs: number;
  revokedAtMs?: number;
  /** When the revoke command started: the server may see the file before the command has exited. */
  revokeStartedAtMs?: number;
  seconds: number;
}

/** The revoked key's last OK and first refusal; a problem if it still worked after REVOKED_WITHIN_MS or was never refused. */
function revocationReport(out: Outcomes, revokedAtMs: number | undefined, revokeStartedAtMs = revokedAtMs): string[] {
  if (revokedAtMs === undefined) {
    console.log("key revocation: not run (see above)");
    return [];
  }
  const s = (ms: number | undefined) => (ms === undefined ? "never" : `${((ms - revokedAtMs) / 1000).toFixed(1)} s after`);
  const lastOk = out.lastOkMs.get(REVOCABLE);
  const refused = out.firstRefusedMs.get(REVOCABLE);
  console.log(`key revocation: revoked at ${(revokedAtMs / 1000).toFixed(1)} s; first refused ${s(refused)}; last answered OK ${s(lastOk)}`);
  const problems: string[] = [];
  if (refused === undefined || refused < revokeStartedAtMs!) problems.push("the revoked key was never refused");
  if (lastOk !== undefined && lastOk - revokedAtMs > REVOKED_WITHIN_MS) problems.push(`the revoked key still worked after ${REVOKED_WITHIN_MS / 1000} s`);
  return problems;
}

/** Prints the summary; returns the exit code. */
function report(out: Outcomes, f: RunFacts): number {
  const problems: string[] = [];
  console.log(
    `\ncalls (each streamed image counted as one): ${out.total()} in ${f.seconds.toFixed(0)} s (${(out.total() / f.seconds).toFixed(0)}/s), OK ${out.total((c) => c === "OK")}`,
  );
  console.log("by client and code:");
  for (const [client, codes] of [...out.byClient].sort()) console.log(`  ${client.padEnd(48)} ${[...codes].map(([c, n]) => `${c} ${n}`).join(", ")}`);

  // After a revocation, the revoked key's calls must be refused; nothing else may fail.
  const failures = new Map<string, number>();
  for (const [client, codes] of out.byClient) {
    for (const [code, n] of codes) {
      if (code === "OK" || (f.revokedAtMs !== undefined && client.includes(REVOCABLE) && code === "UNAUTHENTICATED")) continue;
      failures.set(code, (failures.get(code) ?? 0) + n);
    }
  }
  console.log(`failures by code: ${failures.size === 0 ? "none" : [...failures].map(([c, n]) => `${c} ${n}`).join(", ")}`);
  if (failures.size > 0) problems.push("unexpected failures");

  const swapped = out.versions.find((v) => v.version === "2" && v.atMs >= f.swapAtMs);
  console.log(
    `hot swap: versions served ${out.versions.map((v) => `${v.version || "?"} from ${(v.atMs / 1000).toFixed(1)} s`).join(", ")}; ` +
      (swapped ? `version 2 served ${((swapped.atMs - f.swapAtMs) / 1000).toFixed(1)} s after it was deployed` : "version 2 NEVER served"),
  );
  if (!swapped) problems.push("the new version never served");
  problems.push(...revocationReport(out, f.revokedAtMs, f.revokeStartedAtMs));

  const growth = f.warmRss !== undefined && f.endRss !== undefined ? ` (${f.endRss >= f.warmRss ? "+" : ""}${(f.endRss - f.warmRss).toFixed(1)} MiB)` : "";
  console.log(`RSS: after warm-up ${mib(f.warmRss)}, at the end ${mib(f.endRss)}${growth}`);
  console.log(`health at the end: ${f.health}`);
  if (f.health !== "SERVING") problems.push("health not SERVING");
  console.log(problems.length === 0 ? "PASS" : `FAIL: ${problems.join("; ")}`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    killChildren();
    process.exit(1);
  },
);
