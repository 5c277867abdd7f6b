// One measurement: a workload at one concurrency against one target.
// Verify with a real call, run the generator (warm-up, then the measured
// period), sample the target's CPU and RSS over the measured period, read the
// server's own call counters (real server) and verify again.
import { join } from "node:path";
import { counterBy, parseH2loadLog, parseH2loadSummary, parseWrk, type LatencySummary } from "./parse.js";
import { httpGet } from "./grpc-wire.js";
import { runH2load, runWrk, h2loadShape, type GeneratorRun } from "./loadgen.js";
import { ProcessSampler } from "./sampler.js";
import { lastWords, type Target } from "./targets.js";
import type { Workload } from "./workloads.js";

export interface Measurement {
  target: string;
  workload: string;
  concurrency: number;
  status: "ok" | "verify-failed" | "generator-failed" | "target-died";
  /** What went wrong, for any status but ok. */
  detail?: string;
  /** Completed calls per second, whatever their outcome (the generator's count). */
  callsPerSec: number;
  /** Calls per second that succeeded: callsPerSec less the error share (server counters for the real server). */
  okCallsPerSec: number;
  /** okCallsPerSec × rows per call. */
  rowsPerSec: number;
  /** Milliseconds. */
  latency?: LatencySummary;
  /** Calls completed in the measured period. */
  calls: number;
  /** What the generator counted as failed: non-2xx, socket errors, timeouts (gRPC-Web: also grpc-status != 0). */
  generatorErrors: number;
  /**
   * Errors of any kind: over gRPC a failed call is still HTTP 200, so h2load's
   * count and the server's non-OK count add up; over HTTP/1.1 (Connect, and
   * gRPC-Web as checked by the wrk script) the generator already sees them, so
   * the larger of the two.
   */
  errors: number;
  /** Real server only: calls of this method/protocol that ended non-OK (warm-up included), CANCELLED aside. */
  serverNonOk?: Record<string, number>;
  /** Real server only: CANCELLED calls (clients cut off in-flight calls when a run ends). */
  serverCancelled?: number;
  /** Real server only: mean rows per inference run of the model (dynamic batching at work). */
  meanBatchRows?: number;
  serverCpuPercent: number;
  serverPeakRssMiB: number;
  /** Server threads runnable but waiting for the core (its own threads included), percent of the period. */
  serverRunQueueWaitPercent: number;
  /** Generator CPU over the measured period, percent of one core. */
  generatorCpuPercent: number;
  /** Busy percent of core 0 and core 1 over the measured period, whoever used them. */
  coreBusyPercent: number[];
  /**
   * CPU used on the target's core by other processes (core 0 busy − target CPU)
   * and on the generator's core (core 1 busy − generator CPU; includes this
   * orchestrator): other work on this shared machine.
   */
  foreignCore0Percent: number;
  foreignCore1Percent: number;
  /** CPU of this orchestrator (on core 1 with the generator) over the run, percent of one core. */
  orchestratorCpuPercent: number;
  /** 2 when the run was repeated because of foreign load; the quieter one is kept. */
  attempts: number;
  /** At a checked level, which round of server-then-references this run belongs to (0, 1, ...). */
  round?: number;
  /** Generator near one full core: the numbers may be the generator's limit, not the target's. */
  generatorSaturated: boolean;
  durationS: number;
  command: string;
  /** h2load only: connections × streams per connection. */
  shape?: string;
}

export interface MeasureOptions {
  durationS: number;
  warmupS: number;
  tmpDir: string;
  /** Real server: read /metrics around the run. */
  readMetrics: boolean;
  /** Model whose inference counters give the mean batch size. */
  model?: string;
}

export const SATURATION_PERCENT = 90;

function emptyMeasurement(t: Target, w: Workload, c: number): Measurement {
  return blankMeasurement(t.name, w.id, c);
}

/** A measurement with no numbers yet (status "ok" until something says otherwise). */
export function blankMeasurement(target: string, workload: string, c: number): Measurement {
  return {
    target,
    workload,
    concurrency: c,
    status: "ok",
    callsPerSec: NaN,
    okCallsPerSec: NaN,
    rowsPerSec: NaN,
    calls: 0,
    generatorErrors: 0,
    errors: 0,
    serverCpuPercent: NaN,
    serverPeakRssMiB: NaN,
    serverRunQueueWaitPercent: NaN,
    generatorCpuPercent: NaN,
    coreBusyPercent: [],
    foreignCore0Percent: NaN,
    foreignCore1Percent: NaN,
    orchestratorCpuPercent: NaN,
    attempts: 1,
    generatorSaturated: false,
    durationS: 0,
    command: "",
  };
}

let runCounter = 0;

/** A failed check: if the target is dying, say so (with its last words) rather than blame the answer. */
async function failure(target: Target, m: Measurement, detail: string): Promise<Measurement> {
  if (await target.exitsWithin(1000)) return { ...m, status: "target-died", detail: `${detail}; the target died: ${lastWords(target)}` };
  return { ...m, status: "verify-failed", detail };
}

export async function measure(target: Target, w: Workload, concurrency: number, o: MeasureOptions): Promise<Measurement> {
  const m = emptyMeasurement(target, w, concurrency);
  const before = await w.verify(target.port);
  if (before !== undefined) return failure(target, m, `before the run: ${before}`);
  let metricsBefore: string | undefined;
  try {
    metricsBefore = o.readMetrics ? await httpGet(target.metricsPort, "/metrics") : undefined;
  } catch (e) {
    return failure(target, m, `GET /metrics before the run: ${(e as Error).message}`);
  }
  const sampler = new ProcessSampler(target.pid, 100).start();
  const selfCpu = process.cpuUsage();
  const selfStart = performance.now();
  const url = `http://127.0.0.1:${target.port}${w.path}`;
  let run: GeneratorRun;
  let windowFrom: number;
  let windowTo: number;
  try {
    if (w.generator === "h2load") {
      const logFile = join(o.tmpDir, `h2load-${++runCounter}.tsv`);
      run = await runH2load({ url, dataFile: w.bodyFile, headers: w.headers, concurrency, durationS: o.durationS, warmupS: o.warmupS, logFile });
      m.command = run.command;
      const { connections, streams } = h2loadShape(concurrency);
      m.shape = `${connections}x${streams}`;
      if (run.code !== 0) throw new Error(`h2load exited with ${run.code}: ${run.stderr.slice(-500)}${run.stdout.slice(-500)}`);
      const summary = parseH2loadSummary(run.stdout);
      const log = parseH2loadLog(logFile);
      m.callsPerSec = summary.reqPerSec;
      m.calls = log.latency.count;
      m.latency = log.latency;
      m.generatorErrors = Math.max(summary.failed, log.non2xx) + summary.timeout;
      m.durationS = (log.lastEndUs - log.firstStartUs) / 1e6;
      windowFrom = log.firstStartUs / 1000;
      windowTo = log.lastEndUs / 1000;
    } else {
      // wrk has no warm-up option: a separate short run first, its numbers dropped.
      if (o.warmupS > 0) {
        await runWrk({ url, bodyFile: w.bodyFile, headers: w.headers, concurrency, durationS: Math.max(1, Math.round(o.warmupS)), checkGrpcWeb: false });
      }
      run = await runWrk({
        url,
        bodyFile: w.bodyFile,
        headers: w.headers,
        concurrency,
        durationS: o.durationS,
        checkGrpcWeb: w.metricsProtocol === "grpc-web",
      });
      m.command = run.command;
      if (run.code !== 0) throw new Error(`wrk exited with ${run.code}: ${run.stderr.slice(-500)}${run.stdout.slice(-500)}`);
      const r = parseWrk(run.stdout);
      m.calls = r.requests;
      m.callsPerSec = r.requests / (r.duration_us / 1e6);
      const us = r.latency_us;
      m.latency = {
        p50: us.p50 / 1000,
        p90: us.p90 / 1000,
        p99: us.p99 / 1000,
        p999: us.p999 / 1000,
        max: us.max / 1000,
        mean: us.mean / 1000,
        count: r.requests,
      };
      const e = r.errors;
      m.generatorErrors = Math.max(e.status, r.bad_grpc_status) + e.connect + e.read + e.write + e.timeout;
      m.durationS = r.duration_us / 1e6;
      // The connections open within a few ms of the start; the end is when wrk exits.
      windowFrom = run.startedAt + 50;
      windowTo = run.endedAt;
    }
  } catch (e) {
    sampler.stop();
    if (await target.exitsWithin(1000)) return { ...m, status: "target-died", detail: `${(e as Error).message}; the target died: ${lastWords(target)}` };
    return { ...m, status: "generator-failed", detail: (e as Error).message };
  } finally {
    sampler.stop();
  }
  const server = sampler.window(windowFrom, windowTo);
  const self = process.cpuUsage(selfCpu);
  m.orchestratorCpuPercent = (100 * (self.user + self.system)) / 1000 / (performance.now() - selfStart);
  const generator = run.sampler.window(windowFrom, windowTo);
  m.serverCpuPercent = server.cpuPercent;
  m.serverPeakRssMiB = server.peakRssMiB;
  m.serverRunQueueWaitPercent = server.runQueueWaitPercent;
  m.generatorCpuPercent = generator.cpuPercent;
  m.generatorSaturated = generator.cpuPercent >= SATURATION_PERCENT;
  m.coreBusyPercent = server.coreBusyPercent;
  m.foreignCore0Percent = Math.max(0, (server.coreBusyPercent[0] ?? NaN) - server.cpuPercent);
  m.foreignCore1Percent = Math.max(0, (server.coreBusyPercent[1] ?? NaN) - generator.cpuPercent - m.orchestratorCpuPercent);

  if (target.exited()) return { ...m, status: "target-died", detail: `the target died during the run: ${lastWords(target)}` };
  let serverOkShare = 1;
  if (metricsBefore !== undefined) {
    let metricsAfter: string;
    try {
      metricsAfter = await httpGet(target.metricsPort, "/metrics");
    } catch (e) {
      return failure(target, m, `GET /metrics after the run: ${(e as Error).message}`);
    }
    const match = { method: w.metricsMethod, protocol: w.metricsProtocol };
    const a = counterBy(metricsBefore, "rpc_server_calls_total", match, "code");
    const b = counterBy(metricsAfter, "rpc_server_calls_total", match, "code");
    const nonOk: Record<string, number> = {};
    for (const [code, value] of Object.entries(b)) {
      const delta = value - (a[code] ?? 0);
      if (code !== "OK" && code !== "CANCELLED" && delta > 0) nonOk[code] = delta;
    }
    m.serverNonOk = nonOk;
    m.serverCancelled = (b.CANCELLED ?? 0) - (a.CANCELLED ?? 0);
    // Share of OK among the calls the server finished (warm-up included), CANCELLED aside.
    const ok = (b.OK ?? 0) - (a.OK ?? 0);
    const failed = Object.values(nonOk).reduce((x, y) => x + y, 0);
    serverOkShare = ok + failed > 0 ? ok / (ok + failed) : 1;
    if (o.model) {
      const rows = (t: string) => Object.values(counterBy(t, "inference_requests_total", { model: o.model! }, "model")).reduce((x, y) => x + y, 0);
      const runs = (t: string) => Object.values(counterBy(t, "inference_executions_total", { model: o.model! }, "model")).reduce((x, y) => x + y, 0);
      const dRuns = runs(metricsAfter) - runs(metricsBefore);
      if (dRuns > 0) m.meanBatchRows = (rows(metricsAfter) - rows(metricsBefore)) / dRuns;
    }
  }
  const nonOkTotal = Object.values(m.serverNonOk ?? {}).reduce((a, b) => a + b, 0);
  m.errors = w.generator === "h2load" ? m.generatorErrors + nonOkTotal : Math.max(m.generatorErrors, nonOkTotal);
  const generatorOkShare = m.calls > 0 ? Math.max(0, 1 - m.generatorErrors / m.calls) : 1;
  m.okCallsPerSec = m.callsPerSec * Math.min(generatorOkShare, serverOkShare);
  m.rowsPerSec = m.okCallsPerSec * w.rowsPerCall;
  const after = await w.verify(target.port);
  if (after !== undefined) return failure(target, m, `after the run: ${after}`);
  return m;
}

/**
 * A run is repeated once when other processes took more than 10 % of the
 * target's core, or left the generator's core with no headroom (the
 * generator, this orchestrator and others together above 90 %).
 */
export const NOISY_CORE0 = 10;
export const BUSY_CORE1 = 90;

export function isNoisy(m: Measurement): boolean {
  return m.status === "ok" && (m.foreignCore0Percent > NOISY_CORE0 || (m.foreignCore1Percent > 10 && (m.coreBusyPercent[1] ?? 0) > BUSY_CORE1));
}

/** Of two attempts at the same measurement, the one disturbed least by other processes. */
export function quieter(a: Measurement, b: Measurement): Measurement {
  if (a.status !== "ok") return { ...b, attempts: 2 };
  if (b.status !== "ok") return { ...a, attempts: 2 };
  const noise = (m: Measurement) => Math.max(m.foreignCore0Percent, m.foreignCore1Percent / 2);
  return { ...(noise(b) < noise(a) ? b : a), attempts: 2 };
}
