// Parsing what the load generators print: h2load's summary and its
// per-request --log-file, and the JSON line bench/wrk/*.lua print from done().
import { readFileSync } from "node:fs";

export interface LatencySummary {
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  /** How many requests the percentiles are computed from. */
  count: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(valuesMs: Float64Array | number[]): LatencySummary {
  const sorted = Float64Array.from(valuesMs).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    count: sorted.length,
  };
}

export interface H2loadSummary {
  reqPerSec: number;
  /** Seconds h2load ran, warm-up included. */
  finishedSeconds: number;
  total: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
  status3xx: number;
  status4xx: number;
  status5xx: number;
}

export function parseH2loadSummary(text: string): H2loadSummary {
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(text);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (!finished || !requests || !codes) throw new Error(`cannot read h2load's summary:\n${text.slice(-2000)}`);
  const n = (s: string | undefined) => Number(s);
  return {
    reqPerSec: n(finished[3]),
    finishedSeconds: n(finished[1]) / (finished[2] === "ms" ? 1000 : 1),
    total: n(requests[1]),
    done: n(requests[3]),
    succeeded: n(requests[4]),
    failed: n(requests[5]),
    errored: n(requests[6]),
    timeout: n(requests[7]),
    status2xx: n(codes[1]),
    status3xx: n(codes[2]),
    status4xx: n(codes[3]),
    status5xx: n(codes[4]),
  };
}

export interface H2loadLog {
  latency: LatencySummary;
  /** Rows with an HTTP status other than 2xx (0 = cut off when the duration ended; not counted). */
  non2xx: number;
  /** Rows with status 0: requests still in flight when h2load stopped. */
  unfinished: number;
  /** Start of the first and end of the last measured request, µs since the epoch. */
  firstStartUs: number;
  lastEndUs: number;
}

/**
 * h2load --log-file: one row per request of the measured period (warm-up
 * excluded), tab-separated: start time (µs since the epoch), HTTP status,
 * µs from start to the end of the response.
 */
export function parseH2loadLog(path: string): H2loadLog {
  const text = readFileSync(path, "utf8");
  const values: number[] = [];
  let non2xx = 0;
  let unfinished = 0;
  let firstStartUs = Infinity;
  let lastEndUs = -Infinity;
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    if (line === "") continue;
    const [start, status, micros] = line.split("\t");
    const code = Number(status);
    if (code === 0) {
      unfinished++;
      continue;
    }
    if (code < 200 || code >= 300) non2xx++;
    const s = Number(start);
    const d = Number(micros);
    values.push(d / 1000);
    if (s < firstStartUs) firstStartUs = s;
    if (s + d > lastEndUs) lastEndUs = s + d;
  }
  return { latency: summarize(values), non2xx, unfinished, firstStartUs, lastEndUs };
}

export interface WrkResult {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: { min: number; max: number; mean: number; p50: number; p90: number; p99: number; p999: number };
  /** gRPC-Web only: answers whose grpc-status was not 0. */
  bad_grpc_status: number;
}

export function parseWrk(text: string): WrkResult {
  const m = /^WRK_RESULT (\{.*\})$/m.exec(text);
  if (!m) throw new Error(`no WRK_RESULT line in wrk's output:\n${text.slice(-2000)}`);
  return JSON.parse(m[1]!) as WrkResult;
}

/** Prometheus text: sum of a counter's samples whose labels include `match`, grouped by one label. */
export function counterBy(text: string, name: string, match: Record<string, string>, by: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[\w:]+\{(.*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    if (!Object.entries(match).every(([k, v]) => labels[k] === v)) continue;
    const key = labels[by] ?? "";
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}
