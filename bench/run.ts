// `npm run bench`: the benchmark suite. One run starts every target (pinned to
// core 0), drives each workload with h2load or wrk (pinned to core 1) at each
// concurrency, and reports every number next to the references measured in
// the same run, with PASS/FAIL for the target checks. See bench/README.md.
//
//   npm run bench                              full run (about 9 minutes)
//   npm run bench -- --quick                   smoke run (about 2 minutes)
//   npm run bench -- --only predict-grpc,startup
//   options: --duration S  --warmup S  --levels 1,16,64,256  --image-levels 1,16,32,64,256
//            --startup-runs N  --out DIR  --keep-tmp
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readOptions } from "./lib/cli.js";
import { batchingOf, IMAGE_MODEL, LOAN_MODEL, makeFixtures } from "./lib/fixtures.js";
import { h2loadShape, missingTools } from "./lib/loadgen.js";
import { blankMeasurement, isNoisy, measure, quieter, type Measurement } from "./lib/measure.js";
import { consoleSummary, writeResults } from "./lib/report.js";
import { computeChecks, IMAGE_CHECK_LEVELS, PREDICT_CHECK_LEVEL, T, type InProcessResult, type Results } from "./lib/results.js";
import { rssMiB, waitForQuiet } from "./lib/sampler.js";
import { EXTERNAL, GENERATOR_CORE, lastWords, runPinnedScript, SERVER_CORE, startReference, startRealServer, type Target } from "./lib/targets.js";
import { workloads, type WorkloadId } from "./lib/workloads.js";

// ---- options ---------------------------------------------------------------

const ALIASES: Record<string, string[]> = {
  "predict-grpc": ["predict-grpc"],
  grpc: ["predict-grpc"],
  "predict-connect-json": ["predict-connect-json"],
  connect: ["predict-connect-json"],
  json: ["predict-connect-json"],
  "predict-grpc-web": ["predict-grpc-web"],
  "predict-grpc-web-text": ["predict-grpc-web-text"],
  // gRPC-Web in both modes, with Connect JSON on the same server: their checks divide the two.
  "grpc-web": ["predict-grpc-web", "predict-grpc-web-text", "predict-connect-json"],
  "predict-batch-grpc": ["predict-batch-grpc"],
  batch: ["predict-batch-grpc"],
  "classify-image-grpc": ["classify-image-grpc"],
  image: ["classify-image-grpc"],
  images: ["classify-image-grpc"],
  startup: ["startup"],
};

function parseArgs(argv: string[]) {
  const opts = {
    quick: false,
    only: undefined as string[] | undefined,
    durationS: undefined as number | undefined,
    warmupS: undefined as number | undefined,
    levels: undefined as number[] | undefined,
    imageLevels: undefined as number[] | undefined,
    startupRuns: undefined as number | undefined,
    imageRepeats: undefined as number | undefined,
    predictRepeats: undefined as number | undefined,
    out: "bench/results",
    keepTmp: false,
  };
  readOptions(argv, usage, (o) => {
    switch (o.flag) {
      case "--quick":
        opts.quick = true;
        break;
      case "--only": {
        const names = o.list().filter(Boolean);
        const unknown = names.filter((n) => !ALIASES[n]);
        if (unknown.length || !names.length) usage(`unknown workload ${unknown.join(", ") || "(none given)"}`);
        opts.only = [...new Set(names.flatMap((n) => ALIASES[n]!))];
        break;
      }
      case "--duration":
        opts.durationS = o.number(0.1);
        break;
      case "--warmup":
        opts.warmupS = o.number(0);
        break;
      case "--levels":
        opts.levels = o.numbers(1, true);
        break;
      case "--image-levels":
        opts.imageLevels = o.numbers(1, true);
        break;
      case "--startup-runs":
        opts.startupRuns = o.number(0, true);
        break;
      case "--image-repeats":
        opts.imageRepeats = o.number(1, true);
        break;
      case "--predict-repeats":
        opts.predictRepeats = o.number(1, true);
        break;
      case "--out":
        opts.out = o.value();
        break;
      case "--keep-tmp":
        opts.keepTmp = true;
        break;
      default:
        usage(`unknown option ${o.flag}`);
    }
  });
  return {
    ...opts,
    durationS: opts.durationS ?? (opts.quick ? 2 : 5),
    warmupS: opts.warmupS ?? (opts.quick ? 0.5 : 1),
    levels: opts.levels ?? (opts.quick ? [1, 64] : [1, 16, 64, 256]),
    imageLevels: opts.imageLevels ?? (opts.quick ? [1, 32] : [1, 16, 32, 64, 256]),
    startupRuns: opts.startupRuns ?? (opts.quick ? 1 : 3),
    imageRepeats: opts.imageRepeats ?? (opts.quick ? 1 : 3),
    predictRepeats: opts.predictRepeats ?? (opts.quick ? 1 : 3),
  };
}

function usage(error?: string): never {
  if (error) console.error(`bench: ${error}`);
  console.error(
    "usage: node --import tsx bench/run.ts [--quick] [--only w1,w2] [--duration S] [--warmup S] [--levels 1,16,64,256] [--image-levels 1,16,32,64,256] [--startup-runs N] [--image-repeats N] [--predict-repeats N] [--out DIR] [--keep-tmp]\n" +
      `workloads for --only: ${Object.keys(ALIASES).join(", ")}`,
  );
  process.exit(error ? 2 : 0);
}

// ---- helpers ---------------------------------------------------------------

/** Per measurement: read the server's /metrics (and a model's batch counters); a longer window than the run's. */
interface RunOptions {
  readMetrics: boolean;
  model?: string;
  warmupS?: number;
  durationS?: number;
  /** The round at a checked level: its ratios pair runs of the same round. */
  round?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);

/** The commit the run measured (with a mark when the tree had uncommitted changes), or "unknown" outside git. */
function buildId(): string {
  const git = (args: string[]) => spawnSync("git", args, { encoding: "utf8" });
  const head = git(["rev-parse", "--short", "HEAD"]);
  if (head.status !== 0) return "unknown";
  const dirty = git(["status", "--porcelain", "--untracked-files=no"]).stdout.trim() !== "";
  return head.stdout.trim() + (dirty ? " + uncommitted changes" : "");
}

function toolVersion(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) return undefined;
  return `${r.stdout}${r.stderr}`
    .split("\n")
    .find((l) => l.trim())
    ?.trim();
}

const started = new Set<Target>();
async function stopAll(): Promise<void> {
  await Promise.all([...started].map((t) => t.stop().catch(() => {})));
  started.clear();
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, stopping the targets`);
    void stopAll().then(() => {
      removeTmp();
      process.exit(130);
    });
  });
}

async function track(p: Promise<Target>): Promise<Target> {
  const t = await p;
  started.add(t);
  return t;
}

async function stop(t: Target, r: Results, as = t.name): Promise<void> {
  await t.stop();
  started.delete(t);
  if (t.name.startsWith("server") || t.name.startsWith("startup") || t.log.problems.length) {
    // A name can be started more than once (the OFF server serves the Predict and the image rounds): add up its processes.
    const before = r.serverLogs[as] ?? { lines: 0, bytes: 0, problems: [] };
    r.serverLogs[as] = { lines: before.lines + t.log.lines, bytes: before.bytes + t.log.bytes, problems: [...before.problems, ...t.log.problems].slice(0, 50) };
  }
}

/**
 * Targets by name, each with how to start it. Another user of this shared
 * machine may kill our processes (a broad pkill, say): a target found dead is
 * started again, and the loss is reported.
 */
class Slots {
  private readonly starters = new Map<string, () => Promise<Target>>();
  private readonly live = new Map<string, Target>();
  private restarts = 0;

  constructor(private readonly r: Results) {}

  async add(name: string, start: () => Promise<Target>): Promise<Target> {
    this.starters.set(name, start);
    const t = await track(startWithRetry(name, start, this.r));
    this.live.set(name, t);
    return t;
  }

  async get(name: string): Promise<Target> {
    const t = this.live.get(name)!;
    const exit = t.exited();
    if (!exit) return t;
    this.restarts++;
    const words = lastWords(t);
    const why = `${name} (pid ${t.pid}) was found dead: ${words.length > 240 ? `${words.slice(0, 240)}…` : words}`;
    this.r.problems.push(`${why}; started again`);
    log(`${why}; starting it again`);
    await stop(t, this.r, `${name} (before restart ${this.restarts})`);
    const next = await track(startWithRetry(name, this.starters.get(name)!, this.r));
    this.live.set(name, next);
    return next;
  }

  async stopAll(): Promise<void> {
    for (const t of this.live.values()) await stop(t, this.r);
    this.live.clear();
  }
}

/** Starts a target; one killed by a signal before it was ready (not a crash of its own) is started once more. */
async function startWithRetry(name: string, start: () => Promise<Target>, r: Results): Promise<Target> {
  try {
    return await start();
  } catch (e) {
    const message = (e as Error).message;
    if (!/signal SIG/.test(message)) throw e;
    r.problems.push(`${name} was killed by a signal before it was ready (${message.split("\n")[0]}); started again`);
    log(`${name}: killed before ready, starting again`);
    return start();
  }
}

function describe(m: Measurement): string {
  const l = m.latency;
  const base = `${m.target.padEnd(20)} ${m.workload.padEnd(21)} c=${String(m.concurrency).padEnd(4)}`;
  if (m.status !== "ok" && !Number.isFinite(m.callsPerSec)) return `${base} ${m.status.toUpperCase()}: ${m.detail}`;
  return (
    `${base} ${m.callsPerSec.toFixed(0).padStart(7)} calls/s` +
    (m.rowsPerSec !== m.callsPerSec ? ` (${m.rowsPerSec.toFixed(0)} rows/s)` : "") +
    `  p50 ${l?.p50.toFixed(2)} p99 ${l?.p99.toFixed(2)} p99.9 ${l?.p999.toFixed(2)} ms  errors ${m.errors}` +
    `  server ${m.serverCpuPercent.toFixed(0)}% ${m.serverPeakRssMiB.toFixed(0)} MiB  gen ${m.generatorCpuPercent.toFixed(0)}%${m.generatorSaturated ? " SATURATED" : ""}` +
    (m.meanBatchRows !== undefined ? `  batch ${m.meanBatchRows.toFixed(1)}` : "") +
    `  bench ${m.orchestratorCpuPercent.toFixed(0)}%  foreign ${m.foreignCore0Percent.toFixed(0)}%/${m.foreignCore1Percent.toFixed(0)}%` +
    (m.attempts > 1 ? " (2nd try)" : "") +
    (m.status !== "ok" ? `  ${m.status.toUpperCase()}: ${m.detail}` : "")
  );
}

function problemsOf(m: Measurement): string[] {
  const out: string[] = [];
  const id = `${m.target} / ${m.workload} / c=${m.concurrency}`;
  if (m.status !== "ok") out.push(`${id}: ${m.status} - ${m.detail ?? ""}`);
  if (m.errors > 0) {
    out.push(
      `${id}: ${m.errors} errors under load (generator ${m.generatorErrors}${m.serverNonOk && Object.keys(m.serverNonOk).length ? `, server ${JSON.stringify(m.serverNonOk)}` : ""})`,
    );
  }
  if (isNoisy(m))
    out.push(
      `${id}: other processes used ${m.foreignCore0Percent.toFixed(0)}% of core 0 and ${m.foreignCore1Percent.toFixed(0)}% of core 1 during the run${m.attempts > 1 ? " (the quieter of two attempts)" : ""}`,
    );
  if (m.generatorSaturated) out.push(`${id}: load generator at ${m.generatorCpuPercent.toFixed(0)}% of its core - the number may be the generator's limit`);
  // Runs cut off at the end leave at most `c` calls in flight (twice for wrk's separate warm-up run).
  if (m.serverCancelled !== undefined && m.serverCancelled > 2 * m.concurrency + 8)
    out.push(`${id}: ${m.serverCancelled} CANCELLED calls (more than the runs' ends explain)`);
  return out;
}

// ---- main ------------------------------------------------------------------

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const want = (id: string) => !o.only || o.only.includes(id);
  const missing = missingTools();
  if (missing.length) {
    console.error(`bench: missing ${missing.join(", ")}; install with: apt-get install nghttp2-client wrk util-linux`);
    return 2;
  }
  // The real server runs as `npm start` does, from the compiled build: make it fresh.
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
  const cores = Number(execFileSync("nproc", ["--all"], { encoding: "utf8" }).trim());
  if (cores < 2) {
    console.error("bench: needs at least 2 cores (target on core 0, load generator on core 1)");
    return 2;
  }
  // This process (it drains the server's log pipe and samples /proc) shares the generator's core, so the target's core holds the target alone.
  execFileSync("taskset", ["-a", "-p", "-c", GENERATOR_CORE, String(process.pid)], { stdio: "ignore" });
  const tmp = mkdtempSync(join(tmpdir(), "prediction-bench-"));
  tmpToRemove = o.keepTmp ? undefined : tmp;
  const outDir = resolve(o.out);
  mkdirSync(outDir, { recursive: true });
  log(`temporary files in ${tmp}`);
  const fx = await makeFixtures(tmp, { imageSeed: 7 });
  const W = workloads(fx);
  const shipped = resolve("models");
  const levels = o.levels;

  const r: Results = {
    meta: {
      startedAt: new Date().toISOString(),
      quick: o.quick,
      only: o.only,
      durationS: o.durationS,
      warmupS: o.warmupS,
      levels,
      imageLevels: o.imageLevels,
      node: process.version,
      build: buildId(),
      cpu: cpus()[0]?.model ?? "?",
      cores,
      loadavgBefore: loadavg(),
      tools: {
        h2load: toolVersion("h2load", ["--version"]) ?? "?",
        wrk: toolVersion("wrk", ["-v"]) ?? "?",
        node: process.version,
      },
      pinning: `targets (server, floors, grpc-js, in-process reference) with \`taskset -c ${SERVER_CORE}\`; h2load/wrk with \`taskset -c ${GENERATOR_CORE}\` and one thread; this orchestrator (drains the server's log pipe, samples /proc) also on core ${GENERATOR_CORE}`,
      h2loadShapes: Object.fromEntries(
        [...new Set([...levels, ...o.imageLevels])].sort((a, b) => a - b).map((c) => [String(c), `${h2loadShape(c).connections}×${h2loadShape(c).streams}`]),
      ),
      serverEnv: { API_KEYS: "bench-key", LOG_LEVEL: "info", WORKERS: "1", INFERENCE_WORKERS: "1", HOST: "127.0.0.1", PORT: "<free>" },
      imageBatching: { on: batchingOf(fx.repoBatchingOn, IMAGE_MODEL), off: batchingOf(fx.repoBatchingOff, IMAGE_MODEL) },
      loanBatching: { on: batchingOf(shipped, LOAN_MODEL), off: batchingOf(fx.repoBatchingOff, LOAN_MODEL) },
      commands: [],
    },
    startup: [],
    measurements: [],
    inProcess: [],
    problems: [],
    serverLogs: {},
    checks: [],
  };
  const mopts = { durationS: o.durationS, warmupS: o.warmupS, tmpDir: tmp };
  // This machine is shared: before each run, wait (within a budget) for the
  // cores to be quiet; a run disturbed anyway by other processes on the pinned
  // cores is repeated once (within a budget) and the quieter attempt kept.
  let retries = o.quick ? 3 : 8;
  let quietBudgetMs = o.quick ? 20_000 : 60_000;
  const settle = async () => {
    if (quietBudgetMs <= 0) return;
    const q = await waitForQuiet(Math.min(8000, quietBudgetMs), 15, 40);
    quietBudgetMs -= q.waitedMs;
    r.meta.quietWaitMs = (r.meta.quietWaitMs ?? 0) + q.waitedMs;
    if (!q.quiet)
      log(`cores still busy (${q.busy.map((b) => `${b.toFixed(0)}%`).join(", ")}) after waiting ${(q.waitedMs / 1000).toFixed(1)} s; measuring anyway`);
  };
  const slots = new Slots(r);
  // One measurement; an exception (a socket reset, a target gone) becomes a failed measurement, never the end of the run.
  const attempt = async (name: string, id: WorkloadId, c: number, extra: RunOptions): Promise<Measurement> => {
    try {
      return await measure(await slots.get(name), W[id], c, { ...mopts, ...extra });
    } catch (e) {
      const t = await slots.get(name).catch(() => undefined);
      return {
        ...blankMeasurement(name, id, c),
        status: t?.exited() ? "target-died" : "generator-failed",
        detail: `exception: ${(e as Error).message}`,
      };
    }
  };
  const run = async (name: string, id: WorkloadId, c: number, extra: RunOptions) => {
    await settle();
    const inRound = (m: Measurement): Measurement => (extra.round === undefined ? m : { ...m, round: extra.round });
    let m = inRound(await attempt(name, id, c, extra));
    if (m.status === "target-died") {
      // Keep the death on record (table and problems), then measure again on a fresh process.
      record(m);
      log(`${name} died during ${id} c=${c}; measuring again on a fresh process`);
      m = inRound(await attempt(name, id, c, extra));
    } else if (isNoisy(m) && retries > 0) {
      retries--;
      log(`${name} ${id} c=${c}: other load on the cores (${m.foreignCore0Percent.toFixed(0)}%/${m.foreignCore1Percent.toFixed(0)}%), measuring again`);
      await settle();
      m = quieter(m, inRound(await attempt(name, id, c, extra)));
    }
    record(m);
  };
  const record = (m: Measurement) => {
    r.measurements.push(m);
    r.problems.push(...problemsOf(m));
    if (m.command && (m.target === T.server || m.target === T.batchingOn)) r.meta.commands.push(m.command);
    console.log(describe(m));
    if (m.status === "verify-failed") console.error(`\n!!! ${m.target} answered ${m.workload} wrongly: ${m.detail}\n`);
    if (m.status === "target-died" && !(m.detail ?? "").includes(EXTERNAL))
      console.error(`\n!!! ${m.target} DIED under ${m.workload} c=${m.concurrency}: ${m.detail}\n`);
  };

  try {
    // 1. Start-up time and idle memory of the real server with the shipped models.
    if (want("startup")) {
      for (let i = 1; i <= o.startupRuns; i++) {
        await settle();
        const t = await track(startWithRetry(`startup-${i}`, () => startRealServer({ name: `startup-${i}`, modelRepository: shipped }), r));
        const toServingMs = t.readyAt - t.spawnedAt;
        const settleMs = o.quick ? 2000 : 3000;
        await sleep(settleMs);
        const idle = rssMiB(t.pid) ?? NaN;
        r.startup.push({ toServingMs, idleRssMiB: idle, settleMs });
        log(`start ${i}: spawn → SERVING ${(toServingMs / 1000).toFixed(3)} s, idle RSS ${idle.toFixed(1)} MiB`);
        await stop(t, r);
      }
    }

    // 2. Predict workloads: the real server and the references, all up at once
    //    (idle ones cost nothing measurable), runs interleaved target by target
    //    so that the ratios compare numbers taken minutes apart at most.
    // PredictBatch right after single Predict: its check divides the two, round by round.
    const predictIds: WorkloadId[] = (
      ["predict-grpc", "predict-batch-grpc", "predict-connect-json", "predict-grpc-web", "predict-grpc-web-text"] as const
    ).filter(want);
    if (predictIds.length) {
      const server = await slots.add(T.server, () => startRealServer({ name: T.server, modelRepository: shipped }));
      log(`${T.server} SERVING on ${server.port} (pid ${server.pid}) after ${((server.readyAt - server.spawnedAt) / 1000).toFixed(2)} s`);
      const needH2 = predictIds.includes("predict-grpc");
      const needHttp = predictIds.includes("predict-connect-json") || predictIds.includes("predict-grpc-web");
      if (needH2) await slots.add(T.h2Floor, () => startReference(T.h2Floor, "bench/targets/h2-grpc-floor.mjs", [fx.replyGrpc.toString("base64")]));
      if (needH2) await slots.add(T.grpcJs, () => startReference(T.grpcJs, "bench/targets/grpcjs-reference.mjs", []));
      if (needHttp)
        await slots.add(T.httpFloor, () =>
          startReference(T.httpFloor, "bench/targets/http-json-floor.mjs", [fx.replyGrpcWeb.toString("base64"), fx.replyJson.toString("base64")]),
        );
      // The loan model without dynamic batching, in the checked rounds only:
      // not a target, it shows what the batcher gives a small model on one core.
      if (needH2) await slots.add(T.batchingOff, () => startRealServer({ name: T.batchingOff, modelRepository: fx.repoBatchingOff }));
      const targetsFor: Record<string, string[]> = {
        "predict-grpc": [T.server, T.grpcJs, T.h2Floor, T.batchingOff],
        "predict-connect-json": [T.server, T.httpFloor],
        "predict-grpc-web": [T.server, T.httpFloor],
        // Checked against Connect JSON on the same server, not against a floor.
        "predict-grpc-web-text": [T.server],
        "predict-batch-grpc": [T.server],
      };
      for (const c of levels) {
        // At the checked level every workload and target is measured in
        // rounds (per workload, the server, then each reference), repeated:
        // a check divides the runs of one round, a minute apart at most, and
        // takes the median of those ratios, so one slow minute of the shared
        // machine does not decide.
        const repeats = c === PREDICT_CHECK_LEVEL ? o.predictRepeats : 1;
        for (let i = 0; i < repeats; i++) {
          for (const id of predictIds) {
            for (const name of targetsFor[id]!.filter((t) => t !== T.batchingOff || c === PREDICT_CHECK_LEVEL)) {
              const real = name === T.server || name === T.batchingOff;
              await run(name, id, c, { readMetrics: real, model: real ? LOAN_MODEL : undefined, round: repeats > 1 ? i : undefined });
            }
          }
        }
      }
      await slots.stopAll();
    }

    // 3. The image path: batching ON and OFF (two servers), and the
    //    in-process reference with no RPC.
    if (want("classify-image-grpc")) {
      const on = await slots.add(T.batchingOn, () => startRealServer({ name: T.batchingOn, modelRepository: fx.repoBatchingOn }));
      const off = await slots.add(T.batchingOff, () => startRealServer({ name: T.batchingOff, modelRepository: fx.repoBatchingOff }));
      log(`image servers SERVING: ON on ${on.port}, OFF on ${off.port}`);
      const inProcess = async (mode: "pool" | "engine", c: number, round?: number) => {
        await settle();
        const res = await runPinnedScript(
          "bench/targets/inprocess-image.ts",
          [join(fx.repoBatchingOn, IMAGE_MODEL), join(tmp, "image-640x480.jpg"), mode, String(c), String(o.durationS), String(o.warmupS)],
          (o.durationS + o.warmupS) * 4 * 1000 + 60_000,
        );
        const lines = res.stdout.split("\n").filter((l) => l.startsWith("INPROCESS_RESULT "));
        if (res.code !== 0 || lines.length === 0) r.problems.push(`in-process reference (${mode}) failed: code ${res.code} ${res.stderr.slice(-500)}`);
        for (const l of lines) {
          const p = JSON.parse(l.slice("INPROCESS_RESULT ".length)) as InProcessResult;
          if (round !== undefined) p.round = round;
          p.foreignCore0Percent = Math.max(0, (res.usage.coreBusyPercent[0] ?? NaN) - res.usage.cpuPercent);
          r.inProcess.push(p);
          log(
            `in-process (${mode}) c=${p.concurrency}: ${p.imagesPerSec.toFixed(1)} images/s p50 ${p.latency.p50.toFixed(1)} p99 ${p.latency.p99.toFixed(1)} ms CPU ${p.cpuPercent.toFixed(0)}% (foreign on core 0 over the mode's run: ${p.foreignCore0Percent.toFixed(0)}%)`,
          );
        }
      };
      for (const c of o.imageLevels) {
        // At the checked levels, ON, OFF and the in-process reference are
        // measured in rounds, repeated, so that a slow minute slows every side
        // of a ratio alike and one noisy moment does not decide (a check takes
        // the median of its rounds' ratios). The idle servers stay up meanwhile.
        const checked = IMAGE_CHECK_LEVELS.includes(c);
        const repeats = checked ? o.imageRepeats : 1;
        // ~80 images/s on one core: 256 in flight wait ~3 s each, as long as a
        // whole measurement; a longer warm-up and period let the queue fill
        // and the rate settle before it is read.
        const window = c >= 128 ? { warmupS: Math.max(o.warmupS, 5), durationS: Math.max(o.durationS, 15) } : {};
        for (let i = 0; i < repeats; i++) {
          for (const name of [T.batchingOn, T.batchingOff])
            await run(name, "classify-image-grpc", c, { readMetrics: true, model: IMAGE_MODEL, ...window, round: repeats > 1 ? i : undefined });
          if (checked) for (const mode of ["pool", "engine"] as const) await inProcess(mode, c, repeats > 1 ? i : undefined);
        }
      }
      await slots.stopAll();
    }
  } finally {
    await stopAll();
  }

  for (const [name, l] of Object.entries(r.serverLogs)) {
    if (l.problems.length) r.problems.push(`${name} logged ${l.problems.length} warn/error lines, first: ${l.problems[0]!.slice(0, 300)}`);
  }
  r.meta.finishedAt = new Date().toISOString();
  r.meta.loadavgAfter = loadavg();
  r.checks = computeChecks(r);
  const files = writeResults(outDir, r);
  console.log(consoleSummary(r));
  console.log(`\nwrote ${files.join(", ")}`);
  if (o.keepTmp) log(`kept ${tmp}`);
  // A broken run (wrong answers, dead target, failed generator) exits non-zero; FAIL checks do not.
  const broken =
    r.measurements.some((m) => m.status !== "ok" && !(m.detail ?? "").includes(EXTERNAL)) || r.problems.some((p) => p.includes("in-process reference"));
  return broken ? 1 : 0;
}

/** The run's temporary directory (request files, h2load logs, model repositories), removed at exit unless --keep-tmp. */
let tmpToRemove: string | undefined;
const removeTmp = () => {
  if (tmpToRemove) rmSync(tmpToRemove, { recursive: true, force: true });
};

main().then(
  (code) => {
    removeTmp();
    process.exit(code);
  },
  async (e) => {
    console.error("bench failed:", e);
    await stopAll();
    removeTmp();
    process.exit(1);
  },
);
