// The run's results, the target checks computed from them (each a ratio of
// two numbers measured in this same run, or an absolute bound), and the
// ratio table against the references.
import type { LatencySummary } from "./parse.js";
import { isNoisy, type Measurement } from "./measure.js";

/** Target names used in measurements. */
export const T = {
  server: "server",
  h2Floor: "node:http2 floor",
  httpFloor: "node:http floor",
  grpcJs: "grpc-js + proto-loader",
  batchingOn: "server, batching ON",
  batchingOff: "server, batching OFF",
} as const;

export interface InProcessResult {
  mode: "pool" | "engine";
  concurrency: number;
  imagesPerSec: number;
  images: number;
  latency: LatencySummary;
  cpuPercent: number;
  peakRssMiB: number;
  batching: unknown;
  /** CPU used on core 0 by other processes during this mode's whole run (all its concurrencies), percent. */
  foreignCore0Percent?: number;
  /** The round at a checked level, as for Measurement.round: the image servers' runs of the same round came just before. */
  round?: number;
}

export interface StartupRun {
  /** Spawn to the first SERVING answer of grpc.health.v1.Health/Check, ms. */
  toServingMs: number;
  /** RSS after SERVING and an idle settle, MiB. */
  idleRssMiB: number;
  settleMs: number;
}

export interface Check {
  name: string;
  /** How the value is formed. */
  formula: string;
  value: number;
  /** e.g. ">= 1.0" */
  target: string;
  /** False also when not measured (value NaN: the workload was left out or failed). */
  pass: boolean;
  /** Missing inputs, warnings. */
  note?: string;
}

export interface Results {
  meta: {
    startedAt: string;
    finishedAt?: string;
    quick: boolean;
    only?: string[];
    durationS: number;
    warmupS: number;
    levels: number[];
    imageLevels: number[];
    node: string;
    /** Commit measured (see buildId in run.ts); absent in results from before run 10. */
    build?: string;
    cpu: string;
    cores: number;
    loadavgBefore: number[];
    loadavgAfter?: number[];
    tools: Record<string, string>;
    pinning: string;
    h2loadShapes: Record<string, string>;
    serverEnv: Record<string, string>;
    imageBatching: { on: unknown; off: unknown };
    /** The loan model's batching on the server and on "server, batching OFF" (runs from 20 on). */
    loanBatching?: { on: unknown; off: unknown };
    commands: string[];
    /** Time spent waiting for other processes to leave the cores before runs. */
    quietWaitMs?: number;
  };
  startup: StartupRun[];
  measurements: Measurement[];
  inProcess: InProcessResult[];
  /** Problems seen: failed verifications, errors under load, dead targets, saturated generator, warn/error log lines. */
  problems: string[];
  serverLogs: Record<string, { lines: number; bytes: number; problems: string[] }>;
  checks: Check[];
}

/** The level at which the Predict checks compare (server vs grpc-js, vs node:http, batch vs single). */
export const PREDICT_CHECK_LEVEL = 64;

/** The levels at which the image checks compare (ON vs OFF, server vs in-process). */
export const IMAGE_CHECK_LEVELS = [1, 32];

/**
 * The measurement of a target, workload and level. Repeated measurements
 * (the image checks' pairs, the Predict checks' rounds): the median one by OK calls/s, a real run rather
 * than an average of runs.
 */
export function find(r: Results, target: string, workload: string, c: number): Measurement | undefined {
  const runs = r.measurements
    .filter((m) => m.target === target && m.workload === workload && m.concurrency === c && m.status === "ok")
    .sort((a, b) => a.okCallsPerSec - b.okCallsPerSec);
  return runs[Math.floor((runs.length - 1) / 2)];
}

/** The median run of an in-process mode at c (the lower middle one of an even count, as find() takes). */
export function inProcessMedian(r: Results, mode: InProcessResult["mode"], c: number): InProcessResult | undefined {
  const runs = r.inProcess.filter((p) => p.concurrency === c && p.mode === mode).sort((a, b) => a.imagesPerSec - b.imagesPerSec);
  return runs[Math.floor((runs.length - 1) / 2)];
}

/** The in-process mode with the higher median images/s at c, as its median run. */
export function bestInProcess(r: Results, c: number): InProcessResult | undefined {
  const medians = [inProcessMedian(r, "pool", c), inProcessMedian(r, "engine", c)];
  return medians.filter((p) => p !== undefined).sort((a, b) => b.imagesPerSec - a.imagesPerSec)[0];
}

/** The ratio of two targets' OK calls/s at one level, as a check takes it. */
export interface PairedRatio {
  /** The median of the rounds' ratios; NaN when either side was not measured. */
  value: number;
  /** Each round's ratio, in round order (one entry, the medians' ratio, for runs without rounds). */
  rounds: number[];
  /** The runs the ratio was formed from, both sides. */
  runs: Measurement[];
}

/** The runs of two sides that belong to the same round, in round order. */
function sameRound<A extends { round?: number }, B extends { round?: number }>(a: A[], b: B[]): Array<readonly [A, B]> {
  return a
    .filter((x) => x.round !== undefined)
    .flatMap((x) => b.filter((y) => y.round === x.round).map((y) => [x, y] as const))
    .sort((x, y) => x[0].round! - y[0].round!);
}

/**
 * `num` ÷ `den` in OK calls/s at a checked level, round by round: a round
 * measures both sides seconds apart, so its ratio leaves out the machine's
 * swings between rounds (which reach 1.5x within minutes), and the median of
 * the rounds' ratios decides. Runs without a round (a level measured once)
 * give the ratio of each side's median run.
 */
export function pairedRatio(r: Results, workload: string, c: number, num: string, den: string): PairedRatio {
  return roundByRound(r, c, { target: num, workload }, { target: den, workload }, (m) => m.okCallsPerSec);
}

/** One workload's OK calls/s ÷ another's on the real server at c, round by round as pairedRatio() does. */
export function pairedWorkloadRatio(r: Results, c: number, num: string, den: string): PairedRatio {
  return roundByRound(r, c, { target: T.server, workload: num }, { target: T.server, workload: den }, (m) => m.okCallsPerSec);
}

/**
 * PredictBatch's rows/s ÷ single Predict's OK calls/s on the server at c,
 * round by round as pairedRatio() does (since run 22 both are measured in
 * each round, seconds apart; before, in loops minutes apart).
 */
export function pairedBatchRatio(r: Results, c: number): PairedRatio {
  return roundByRound(r, c, { target: T.server, workload: "predict-batch-grpc" }, { target: T.server, workload: "predict-grpc" }, (m) =>
    m.workload === "predict-batch-grpc" ? m.rowsPerSec : m.okCallsPerSec,
  );
}

function roundByRound(
  r: Results,
  c: number,
  num: { target: string; workload: string },
  den: { target: string; workload: string },
  value: (m: Measurement) => number,
): PairedRatio {
  const ok = (s: { target: string; workload: string }) =>
    r.measurements.filter((m) => m.target === s.target && m.workload === s.workload && m.concurrency === c && m.status === "ok");
  const pairs = sameRound(ok(num), ok(den));
  if (pairs.length > 0) {
    const rounds = pairs.map(([m, o]) => value(m) / value(o));
    return { value: median(rounds), rounds, runs: pairs.flat() };
  }
  const m = find(r, num.target, num.workload, c);
  const o = find(r, den.target, den.workload, c);
  const v = m && o && value(o) > 0 ? value(m) / value(o) : NaN;
  return { value: v, rounds: Number.isFinite(v) ? [v] : [], runs: [m, o].filter((x): x is Measurement => x !== undefined) };
}

/**
 * The server (batching ON) against the better in-process mode at c, round by
 * round as pairedRatio() does: each round measures ON, OFF, then both
 * in-process modes, a minute at most apart.
 */
export function pairedInProcess(r: Results, c: number): PairedRatio & { mode?: InProcessResult["mode"] } {
  const best = bestInProcess(r, c);
  const on = r.measurements.filter((m) => m.target === T.batchingOn && m.workload === "classify-image-grpc" && m.concurrency === c && m.status === "ok");
  if (!best) return { value: NaN, rounds: [], runs: on };
  const pairs = sameRound(
    on,
    r.inProcess.filter((p) => p.mode === best.mode && p.concurrency === c),
  );
  if (pairs.length > 0) {
    const rounds = pairs.map(([m, p]) => m.okCallsPerSec / p.imagesPerSec);
    return { value: median(rounds), rounds, runs: pairs.map(([m]) => m), mode: best.mode };
  }
  const m = find(r, T.batchingOn, "classify-image-grpc", c);
  const value = m && best.imagesPerSec > 0 ? m.okCallsPerSec / best.imagesPerSec : NaN;
  return { value, rounds: Number.isFinite(value) ? [value] : [], runs: m ? [m] : [], mode: best.mode };
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function computeChecks(r: Results): Check[] {
  const checks: Check[] = [];
  // A measurement with errors under load cannot make a check pass, whatever its ratio.
  const clean = (...ms: Array<Measurement | undefined>) => ms.every((m) => m === undefined || m.errors === 0);
  const ratio = (
    name: string,
    formula: string,
    num: number | undefined,
    den: number | undefined,
    min: number,
    note: string | undefined,
    inputs: Array<Measurement | undefined>,
  ) => {
    const value = num !== undefined && den !== undefined && den > 0 ? num / den : NaN;
    const ok = clean(...inputs);
    checks.push({
      name,
      formula,
      value,
      target: `>= ${min.toFixed(2)}`,
      pass: Number.isFinite(value) && value >= min && ok,
      note: !Number.isFinite(value) ? "not measured" : ok ? note : `FAIL because of errors under load - ${note ?? ""}`,
    });
  };
  const errorsNote = (...ms: Array<Measurement | undefined>) => {
    const errs = ms.filter((m): m is Measurement => m !== undefined && m.errors > 0);
    const sat = ms.filter((m): m is Measurement => m?.generatorSaturated === true);
    const noisy = ms.filter((m): m is Measurement => m !== undefined && isNoisy(m));
    const parts = [
      ...errs.map((m) => `${m.target}: ${m.errors} errors`),
      ...sat.map((m) => `${m.target}: generator saturated (${m.generatorCpuPercent.toFixed(0)}% CPU)`),
      ...noisy.map((m) => `${m.target}: other processes on the cores (${m.foreignCore0Percent.toFixed(0)}%/${m.foreignCore1Percent.toFixed(0)}%)`),
    ];
    return parts.length ? parts.join("; ") : undefined;
  };

  /** A check of one ratio formed round by round (pairedRatio). */
  const paired = (name: string, formula: string, p: PairedRatio, min: number) => {
    const rounds = p.rounds.length > 1 ? `rounds ${p.rounds.map((x) => x.toFixed(2)).join(", ")}` : undefined;
    const note = [rounds, errorsNote(...p.runs)].filter(Boolean).join("; ") || undefined;
    ratio(name, p.rounds.length > 1 ? `median over rounds of (${formula})` : formula, p.value, 1, min, note, p.runs);
  };

  const sGrpc = find(r, T.server, "predict-grpc", PREDICT_CHECK_LEVEL);
  paired(
    "Predict gRPC: server vs grpc-js, c=64",
    "server OK calls/s ÷ grpc-js calls/s",
    pairedRatio(r, "predict-grpc", PREDICT_CHECK_LEVEL, T.server, T.grpcJs),
    1.0,
  );
  const p99 = sGrpc?.latency?.p99;
  checks.push({
    name: "Predict gRPC: server p99 latency, c=64",
    formula: "99th percentile of per-call time (h2load log)",
    value: p99 ?? NaN,
    target: "<= 10 ms",
    pass: p99 !== undefined && p99 <= 10 && clean(sGrpc),
    note: p99 === undefined ? "not measured" : errorsNote(sGrpc),
  });
  paired(
    "Predict Connect JSON/HTTP1.1: server vs bare node:http, c=64",
    "server OK calls/s ÷ node:http floor calls/s",
    pairedRatio(r, "predict-connect-json", PREDICT_CHECK_LEVEL, T.server, T.httpFloor),
    0.4,
  );
  for (const [workload, mode] of [
    ["predict-grpc-web", "binary"],
    ["predict-grpc-web-text", "text"],
  ] as const) {
    paired(
      `Predict gRPC-Web ${mode} vs Connect JSON, same server, c=64`,
      `server gRPC-Web ${mode} OK calls/s ÷ server Connect JSON OK calls/s`,
      pairedWorkloadRatio(r, PREDICT_CHECK_LEVEL, workload, "predict-connect-json"),
      0.8,
    );
  }
  paired(
    "PredictBatch(100) rows/s vs single Predict calls/s, c=64 (gRPC)",
    "(batch OK calls/s × 100) ÷ Predict OK calls/s",
    pairedBatchRatio(r, PREDICT_CHECK_LEVEL),
    30,
  );
  const inproc = pairedInProcess(r, 32);
  paired(
    "Images: server (batching ON) vs in-process, c=32",
    `server OK images/s ÷ in-process images/s (${inproc.mode ?? "?"}, the better mode by median)`,
    inproc,
    0.8,
  );
  paired("Images: batching ON vs OFF, c=32", "ON OK images/s ÷ OFF OK images/s", pairedRatio(r, "classify-image-grpc", 32, T.batchingOn, T.batchingOff), 1.3);
  paired(
    "Images: batching ON vs OFF, c=1 (never worse)",
    "ON OK images/s ÷ OFF OK images/s",
    pairedRatio(r, "classify-image-grpc", 1, T.batchingOn, T.batchingOff),
    1.0,
  );
  const rss = median(r.startup.map((s) => s.idleRssMiB));
  const rssMB = (rss * 2 ** 20) / 1e6;
  checks.push({
    name: "Idle RSS, real server with both shipped models",
    formula: `median over ${r.startup.length} start(s) of VmRSS after SERVING + idle settle, in MB (10^6 bytes; ${rss.toFixed(1)} MiB)`,
    value: rssMB,
    target: "< 150 MB",
    pass: Number.isFinite(rssMB) && rssMB < 150,
    note: r.startup.length ? `each: ${r.startup.map((s) => ((s.idleRssMiB * 2 ** 20) / 1e6).toFixed(1)).join(", ")} MB` : "not measured",
  });
  const start = median(r.startup.map((s) => s.toServingMs));
  checks.push({
    name: "Start to health SERVING",
    formula: `median over ${r.startup.length} start(s): spawn of \`node dist/src/main.js\` → first SERVING from grpc.health.v1.Health/Check`,
    value: start / 1000,
    target: "< 1.5 s",
    pass: Number.isFinite(start) && start < 1500,
    note: r.startup.length ? `each: ${r.startup.map((s) => (s.toServingMs / 1000).toFixed(2)).join(", ")} s` : "not measured",
  });
  return checks;
}

export interface RatioRow {
  workload: string;
  concurrency: number;
  server: string;
  reference: string;
  serverValue: number;
  referenceValue: number;
  ratio: number;
  unit: string;
}

/** Every server measurement against each reference measured at the same workload and concurrency. */
export function ratioRows(r: Results): RatioRow[] {
  const rows: RatioRow[] = [];
  const pairs: Array<[string, string, string]> = [
    ["predict-grpc", T.server, T.grpcJs],
    ["predict-grpc", T.server, T.h2Floor],
    // Not a target: the loan model with and without dynamic batching (c=64 only).
    ["predict-grpc", T.server, T.batchingOff],
    ["predict-connect-json", T.server, T.httpFloor],
    ["predict-grpc-web", T.server, T.httpFloor],
    ["classify-image-grpc", T.batchingOn, T.batchingOff],
  ];
  // One row per target, workload and level (the median run where a level was measured several times).
  const measured = (w: string, t: string) =>
    [...new Set(r.measurements.filter((m) => m.workload === w && m.target === t && m.status === "ok").map((m) => m.concurrency))].map((c) => find(r, t, w, c)!);
  for (const [w, s, ref] of pairs) {
    for (const m of measured(w, s)) {
      const other = find(r, ref, w, m.concurrency);
      if (!other) continue;
      rows.push({
        workload: w,
        concurrency: m.concurrency,
        server: s,
        reference: ref,
        serverValue: m.okCallsPerSec,
        referenceValue: other.okCallsPerSec,
        ratio: m.okCallsPerSec / other.okCallsPerSec,
        unit: "OK calls/s",
      });
    }
  }
  for (const w of ["predict-grpc-web", "predict-grpc-web-text"]) {
    for (const m of measured(w, T.server)) {
      const json = find(r, T.server, "predict-connect-json", m.concurrency);
      if (json)
        rows.push({
          workload: w,
          concurrency: m.concurrency,
          server: T.server,
          reference: "server Connect JSON",
          serverValue: m.okCallsPerSec,
          referenceValue: json.okCallsPerSec,
          ratio: m.okCallsPerSec / json.okCallsPerSec,
          unit: "OK calls/s",
        });
    }
  }
  for (const m of measured("predict-batch-grpc", T.server)) {
    const single = find(r, T.server, "predict-grpc", m.concurrency);
    if (single)
      rows.push({
        workload: m.workload,
        concurrency: m.concurrency,
        server: "server rows/s",
        reference: "server Predict OK calls/s",
        serverValue: m.rowsPerSec,
        referenceValue: single.okCallsPerSec,
        ratio: m.rowsPerSec / single.okCallsPerSec,
        unit: "rows/s",
      });
  }
  for (const m of [T.batchingOn, T.batchingOff].flatMap((t) => measured("classify-image-grpc", t))) {
    for (const p of (["pool", "engine"] as const).map((mode) => inProcessMedian(r, mode, m.concurrency))) {
      if (p)
        rows.push({
          workload: m.workload,
          concurrency: m.concurrency,
          server: m.target,
          reference: `in-process (${p.mode})`,
          serverValue: m.okCallsPerSec,
          referenceValue: p.imagesPerSec,
          ratio: m.okCallsPerSec / p.imagesPerSec,
          unit: "OK images/s",
        });
    }
  }
  return rows;
}
