// `npm run bench:compare`: the CPU one call costs in two builds of the server
// (or one build under two settings), both pinned to the same core and loaded
// at the same time from the other. Whatever this shared machine does to one
// then happens to the other too: across pairs the ratio B ÷ A of CPU per call
// holds within a few percent while calls/s swing 2× from minute to minute
// (docs/design.md, "How the numbers were taken").
//
//   npm run bench:compare -- <A> <B> [options]
//
// A and B: a git revision (exported with `git archive` into a temporary
// directory and built there, with this checkout's node_modules), or "." for
// this checkout as it is (rebuilt). Each serves its own models/.
//   --workload predict-grpc | predict-connect-json | predict-batch-grpc   (default predict-grpc)
//   --pairs N (default 4)   --concurrency C (default 64)   --duration S (default 6)
//   --warmup S (default 1): seconds of load before measuring; a longer one
//                           measures later in the servers' lives
//   --env-a NAME=VALUE, --env-b NAME=VALUE   extra environment for one side, repeatable
//                                            (e.g. `. . --env-b LOG_LEVEL=warn`)
//
// Compare servers with the same threads only (two builds of this one): the
// scheduler shares the core per thread, so a server with an extra busy
// thread gets a larger share and other batches, which skews the ratio.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readOptions } from "./lib/cli.js";
import { writeRequestFiles } from "./lib/fixtures.js";
import { missingTools, runH2load, runWrk, type GeneratorRun } from "./lib/loadgen.js";
import { counterBy, parseH2loadSummary, parseWrk } from "./lib/parse.js";
import { median } from "./lib/results.js";
import { httpGet } from "./lib/grpc-wire.js";
import { cpuSeconds } from "./lib/sampler.js";
import { GENERATOR_CORE, startRealServer, type Target } from "./lib/targets.js";
import { workloads, type Workload, type WorkloadId } from "./lib/workloads.js";

const COMPARABLE: WorkloadId[] = ["predict-grpc", "predict-connect-json", "predict-batch-grpc"];

interface Side {
  label: string;
  /** The checkout that runs. */
  dir: string;
  env: Record<string, string>;
}

interface Sample {
  callsPerSec: number;
  /** Calls the server answered OK in the measured period. */
  calls: number;
  cpuUsPerCall: number;
}

function usage(error?: string): never {
  if (error) console.error(`bench:compare: ${error}`);
  console.error(
    "usage: npm run bench:compare -- <A> <B> [--workload predict-grpc|predict-connect-json|predict-batch-grpc] [--pairs N] [--concurrency C] [--duration S] [--warmup S] [--env-a NAME=VALUE] [--env-b NAME=VALUE]\n" +
      'A and B: a git revision, or "." for this checkout as it is',
  );
  process.exit(error ? 2 : 0);
}

function parseArgs(argv: string[]) {
  const o = {
    revs: [] as string[],
    workload: "predict-grpc" as WorkloadId,
    pairs: 4,
    concurrency: 64,
    durationS: 6,
    warmupS: 1,
    envA: {} as Record<string, string>,
    envB: {} as Record<string, string>,
  };
  const setting = (s: string | undefined, into: Record<string, string>) => {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(s ?? "");
    if (!m) usage(`expected NAME=VALUE, got ${s}`);
    into[m[1]!] = m[2]!;
  };
  readOptions(
    argv,
    usage,
    (opt) => {
      switch (opt.flag) {
        case "--workload": {
          const w = opt.value() as WorkloadId;
          if (!COMPARABLE.includes(w)) usage(`--workload is one of ${COMPARABLE.join(", ")}`);
          o.workload = w;
          break;
        }
        case "--pairs":
          o.pairs = opt.number(1, true);
          break;
        case "--concurrency":
          o.concurrency = opt.number(1, true);
          break;
        case "--duration":
          o.durationS = opt.number(1, true);
          break;
        case "--warmup":
          o.warmupS = opt.number(1, true);
          break;
        case "--env-a":
          setting(opt.value(), o.envA);
          break;
        case "--env-b":
          setting(opt.value(), o.envB);
          break;
        default:
          usage(`unknown option ${opt.flag}`);
      }
    },
    (rev) => o.revs.push(rev),
  );
  if (o.revs.length !== 2) usage("give two builds to compare, A and B");
  return o;
}

/** A checkout of `rev` built in a temporary directory (this checkout's node_modules), or this checkout for ".". */
function checkout(rev: string, tmp: string): string {
  const here = resolve(".");
  if (rev === ".") {
    execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
    return here;
  }
  const sha = spawnSync("git", ["rev-parse", "--verify", "--short", `${rev}^{commit}`], { encoding: "utf8" });
  if (sha.status !== 0) usage(`not a git revision: ${rev}`);
  const dir = join(tmp, sha.stdout.trim());
  if (existsSync(dir)) return dir;
  execFileSync("sh", ["-c", `mkdir -p "${dir}" && git archive --format=tar "${sha.stdout.trim()}" | tar -x -C "${dir}"`]);
  symlinkSync(join(here, "node_modules"), join(dir, "node_modules"));
  if (readFileSync(join(dir, "package-lock.json"), "utf8") !== readFileSync("package-lock.json", "utf8")) {
    console.warn(`bench:compare: ${rev}'s package-lock.json differs from this checkout's; it runs with this checkout's node_modules`);
  }
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: dir, stdio: "inherit" });
  return dir;
}

/** Calls the server finished OK so far, from its own counters. */
async function okCalls(t: Target, w: Workload): Promise<number> {
  const counts = counterBy(
    await httpGet(t.metricsPort, "/metrics"),
    "rpc_server_calls_total",
    { method: w.metricsMethod, protocol: w.metricsProtocol },
    "code",
  );
  return counts.OK ?? 0;
}

function generate(w: Workload, t: Target, concurrency: number, durationS: number, tmp: string): Promise<GeneratorRun> {
  const url = `http://127.0.0.1:${t.port}${w.path}`;
  if (w.generator === "h2load") {
    return runH2load({ url, dataFile: w.bodyFile, headers: w.headers, concurrency, durationS, warmupS: 0, logFile: join(tmp, `h2load-${t.pid}.tsv`) });
  }
  return runWrk({ url, bodyFile: w.bodyFile, headers: w.headers, concurrency, durationS, checkGrpcWeb: false });
}

function generatorFailure(run: GeneratorRun, w: Workload): string | undefined {
  if (run.code !== 0) return `${run.command} exited with ${run.code}: ${run.stderr.slice(-300)}`;
  if (w.generator === "h2load") {
    const s = parseH2loadSummary(run.stdout);
    return s.succeeded === s.done ? undefined : `${s.done - s.succeeded} of ${s.done} calls failed (${run.command})`;
  }
  const r = parseWrk(run.stdout);
  const bad = r.errors.status + r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
  return bad === 0 ? undefined : `${bad} of ${r.requests} calls failed (${run.command})`;
}

/** One pair: both servers started, warmed up and measured at the same time. */
async function pair(sides: [Side, Side], w: Workload, o: ReturnType<typeof parseArgs>, tmp: string): Promise<[Sample, Sample]> {
  const targets: Target[] = [];
  try {
    for (const side of sides) {
      targets.push(await startRealServer({ name: side.label, modelRepository: join(side.dir, "models"), dir: side.dir, env: side.env }));
    }
    for (const t of targets) {
      const wrong = await w.verify(t.port);
      if (wrong) throw new Error(`${t.name} answers ${w.id} wrongly: ${wrong}`);
    }
    // Warm-up (JIT, pools, connections), its numbers dropped.
    await Promise.all(targets.map((t) => generate(w, t, o.concurrency, o.warmupS, tmp)));
    const before = await Promise.all(targets.map(async (t) => ({ ok: await okCalls(t, w), cpu: cpuSeconds(t.pid)! })));
    const started = performance.now();
    const runs = await Promise.all(targets.map((t) => generate(w, t, o.concurrency, o.durationS, tmp)));
    const seconds = (performance.now() - started) / 1000;
    const after = await Promise.all(targets.map(async (t) => ({ cpu: cpuSeconds(t.pid)!, ok: await okCalls(t, w) })));
    return targets.map((t, i) => {
      const failed = generatorFailure(runs[i]!, w);
      if (failed) throw new Error(`${t.name}: ${failed}`);
      const calls = after[i]!.ok - before[i]!.ok;
      if (calls <= 0) throw new Error(`${t.name}: no OK ${w.id} calls counted in its /metrics`);
      return { calls, callsPerSec: calls / seconds, cpuUsPerCall: ((after[i]!.cpu - before[i]!.cpu) * 1e6) / calls };
    }) as [Sample, Sample];
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const missing = missingTools();
  if (missing.length) usage(`missing ${missing.join(", ")} (apt-get install nghttp2-client wrk util-linux)`);
  const tmp = mkdtempSync(join(tmpdir(), "bench-compare-"));
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const [a, b] = o.revs.map((rev) => checkout(rev, tmp)) as [string, string];
    const envText = (env: Record<string, string>) =>
      Object.entries(env)
        .map(([k, v]) => ` ${k}=${v}`)
        .join("");
    const A: Side = { label: `A (${o.revs[0]}${envText(o.envA)})`, dir: a, env: o.envA };
    const B: Side = { label: `B (${o.revs[1]}${envText(o.envB)})`, dir: b, env: o.envB };
    const w = workloads(await writeRequestFiles(join(tmp, "requests")))[o.workload];
    // This process drains both servers' logs: on the generators' core, off the servers'.
    execFileSync("taskset", ["-a", "-p", "-c", GENERATOR_CORE, String(process.pid)], { stdio: "ignore" });
    console.log(`${w.title}, c=${o.concurrency} each, ${o.warmupS} s warm-up, ${o.durationS} s, ${o.pairs} pairs\n${A.label}\n${B.label}\n`);
    console.log("pair  A calls/s  A µs/call  B calls/s  B µs/call  B÷A CPU per call");
    const ratios: number[] = [];
    for (let i = 1; i <= o.pairs; i++) {
      // Alternate which server starts first, so neither always has the other's start-up behind it.
      const order: [Side, Side] = i % 2 ? [A, B] : [B, A];
      const samples = await pair(order, w, o, tmp);
      const [sa, sb] = i % 2 ? samples : [samples[1], samples[0]];
      const ratio = sb.cpuUsPerCall / sa.cpuUsPerCall;
      ratios.push(ratio);
      const n = (x: number, d = 0) => x.toFixed(d).padStart(9);
      console.log(
        `${String(i).padStart(4)}  ${n(sa.callsPerSec)}  ${n(sa.cpuUsPerCall, 1)}  ${n(sb.callsPerSec)}  ${n(sb.cpuUsPerCall, 1)}  ${ratio.toFixed(3)}`,
      );
    }
    const less = ratios.filter((r) => r < 1).length;
    console.log(
      `\nB ÷ A, CPU per call: median ${median(ratios).toFixed(3)}, range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}; ` +
        `B used less CPU per call in ${less} of ${ratios.length} pairs`,
    );
  } finally {
    cleanup();
  }
}

await main();
