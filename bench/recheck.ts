// Recomputes a finished run's target checks from its raw results, with this
// checkout's check code: `npx tsx bench/recheck.ts bench/results/latest.json`
// (or a run's file from history: `git show <commit>:bench/results/latest.json`).
// Results recorded before runs carried their round (runs up to 14) get it
// from their order: at a checked level the bench measured round by round,
// so the n-th run of a target there belongs to round n.
import { readFileSync } from "node:fs";
import { computeChecks, IMAGE_CHECK_LEVELS, PREDICT_CHECK_LEVEL, type Results } from "./lib/results.js";

const file = process.argv[2];
if (!file) {
  console.error("usage: npx tsx bench/recheck.ts <results.json>");
  process.exit(2);
}
const r = JSON.parse(readFileSync(file, "utf8")) as Results;

const checked = (workload: string, c: number) =>
  workload === "classify-image-grpc" ? IMAGE_CHECK_LEVELS.includes(c) : workload.startsWith("predict") && c === PREDICT_CHECK_LEVEL;
const counters = new Map<string, number>();
const nextRound = (key: string) => {
  const n = counters.get(key) ?? 0;
  counters.set(key, n + 1);
  return n;
};
// A run that died was measured again in the same round: only the runs kept count.
for (const m of r.measurements) {
  if (m.round === undefined && m.status === "ok" && checked(m.workload, m.concurrency)) m.round = nextRound(`${m.target}|${m.workload}|${m.concurrency}`);
}
for (const p of r.inProcess) {
  if (p.round === undefined && IMAGE_CHECK_LEVELS.includes(p.concurrency)) p.round = nextRound(`in-process ${p.mode}|${p.concurrency}`);
}

console.log(`${file}: ${(r.meta as { build?: string }).build ?? "build unknown"}`);
for (const c of computeChecks(r)) {
  const value = Number.isFinite(c.value) ? c.value.toFixed(2) : "n/a";
  console.log(`${c.pass ? "PASS" : "FAIL"}  ${c.name}: ${value} (${c.target})${c.note ? ` - ${c.note}` : ""}`);
}
