// What latest.json keeps of a run: the header without its command lines, the
// checks, the ratio table, and one median row per target, workload and level.
// Every run's raw figures are in latest.md; a committed file of medians stays
// small enough to read and to diff between runs.
import { median, ratioRows, find, inProcessMedian, type Check, type RatioRow, type Results } from "./results.js";

export interface MedianRow {
  target: string;
  workload: string;
  concurrency: number;
  /** Runs kept (status ok); the other figures are the median run's, by OK calls/s, as the checks take it. */
  runs: number;
  okCallsPerSec: number;
  rowsPerSec: number;
  latencyMs?: { p50: number; p99: number; p999: number };
  /** Summed over the runs. */
  errors: number;
  serverCpuPercent: number;
  serverPeakRssMiB: number;
  generatorCpuPercent: number;
  meanBatchRows?: number;
}

export interface Summary {
  meta: Omit<Results["meta"], "commands">;
  checks: Check[];
  ratios: RatioRow[];
  medians: MedianRow[];
  inProcess: Array<{ mode: string; concurrency: number; runs: number; imagesPerSec: number; latencyMs: { p50: number; p99: number }; cpuPercent: number }>;
  startup?: { starts: number; toServingMs: number; idleRssMiB: number };
  problems: string[];
  /** Lines drained from each server's log, and how many of them were warnings or errors. */
  serverLogs: Record<string, { lines: number; warnOrError: number }>;
}

/** Rounds a figure for the file: from 100 up to a whole number, below to three decimals. */
const round = (v: number) => (!Number.isFinite(v) ? v : Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000);

export function summarize(r: Results): Summary {
  const { commands: _commands, ...header } = r.meta;
  const meta = { ...header, quietWaitMs: header.quietWaitMs === undefined ? undefined : Math.round(header.quietWaitMs) };
  const keys = [...new Set(r.measurements.filter((m) => m.status === "ok").map((m) => `${m.target}\n${m.workload}\n${m.concurrency}`))];
  const medians = keys.map((key): MedianRow => {
    const [target = "", workload = "", c = "0"] = key.split("\n");
    const runs = r.measurements.filter((m) => m.target === target && m.workload === workload && m.concurrency === Number(c) && m.status === "ok");
    const m = find(r, target, workload, Number(c)) ?? runs[0];
    return {
      target,
      workload,
      concurrency: Number(c),
      runs: runs.length,
      okCallsPerSec: round(m?.okCallsPerSec ?? NaN),
      rowsPerSec: round(m?.rowsPerSec ?? NaN),
      latencyMs: m?.latency && { p50: round(m.latency.p50), p99: round(m.latency.p99), p999: round(m.latency.p999) },
      errors: runs.reduce((sum, x) => sum + x.errors, 0),
      serverCpuPercent: round(m?.serverCpuPercent ?? NaN),
      serverPeakRssMiB: round(m?.serverPeakRssMiB ?? NaN),
      generatorCpuPercent: round(m?.generatorCpuPercent ?? NaN),
      meanBatchRows: m?.meanBatchRows === undefined ? undefined : round(m.meanBatchRows),
    };
  });
  const modes = [...new Set(r.inProcess.map((p) => `${p.mode}\n${p.concurrency}`))];
  const inProcess = modes.flatMap((key) => {
    const [mode, c] = key.split("\n") as ["pool" | "engine", string];
    const p = inProcessMedian(r, mode, Number(c));
    if (!p) return [];
    const runs = r.inProcess.filter((x) => x.mode === mode && x.concurrency === Number(c)).length;
    return [
      {
        mode,
        concurrency: Number(c),
        runs,
        imagesPerSec: round(p.imagesPerSec),
        latencyMs: { p50: round(p.latency.p50), p99: round(p.latency.p99) },
        cpuPercent: round(p.cpuPercent),
      },
    ];
  });
  return {
    meta,
    checks: r.checks.map((c) => ({ ...c, value: round(c.value) })),
    ratios: ratioRows(r).map((x) => ({ ...x, serverValue: round(x.serverValue), referenceValue: round(x.referenceValue), ratio: round(x.ratio) })),
    medians,
    inProcess,
    startup: r.startup.length
      ? {
          starts: r.startup.length,
          toServingMs: round(median(r.startup.map((s) => s.toServingMs))),
          idleRssMiB: round(median(r.startup.map((s) => s.idleRssMiB))),
        }
      : undefined,
    problems: r.problems,
    serverLogs: Object.fromEntries(Object.entries(r.serverLogs).map(([name, l]) => [name, { lines: l.lines, warnOrError: l.problems.length }])),
  };
}

/** The summary as JSON with one line per header field, check, ratio and median row: short, and a run's diff reads row by row. */
export function summaryJson(s: Summary): string {
  const field = ([key, value]: [string, unknown]) =>
    Array.isArray(value)
      ? `${JSON.stringify(key)}: [${value.length ? `\n${value.map((x) => `  ${JSON.stringify(x)}`).join(",\n")}\n ` : ""}]`
      : value !== null && typeof value === "object"
        ? `${JSON.stringify(key)}: {\n${Object.entries(value)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
            .join(",\n")}\n }`
        : `${JSON.stringify(key)}: ${JSON.stringify(value)}`;
  const fields = Object.entries(s).filter(([, v]) => v !== undefined);
  return `{\n ${fields.map(field).join(",\n ")}\n}\n`;
}
