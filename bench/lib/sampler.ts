// CPU and memory of a process from /proc, sampled on a timer:
// - CPU: utime+stime of all its threads (/proc/<pid>/stat);
// - RSS: VmRSS (/proc/<pid>/status);
// - run-queue wait: time its threads were runnable but not running
//   (/proc/<pid>/task/*/schedstat, 2nd field): CPU taken by someone else;
// - per-core busy time of the whole machine (/proc/stat), so that load from
//   other processes on a pinned core ("foreign" load) shows in the report.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let clockTicks: number | undefined;

/** Clock ticks per second (USER_HZ), for /proc/<pid>/stat times. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds (user + system, every thread) used by the process so far; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: fields count from after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Resident set size in MiB; undefined once the process is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Seconds the process's live threads have spent runnable but waiting for a CPU. */
export function runQueueWaitSeconds(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
      } catch {
        // thread gone
      }
    }
  } catch {
    // process gone
  }
  return ns / 1e9;
}

/** Per core: [busy ticks, total ticks] since boot, from /proc/stat. */
export function coreTicks(): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const v = m[2]!.split(/\s+/).slice(0, 8).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    out[Number(m[1])] = [total - v[3]! - v[4]!, total];
  }
  return out;
}

export interface Sample {
  /** Epoch ms (performance.timeOrigin + performance.now()). */
  t: number;
  cpu: number;
  rss: number;
  wait: number;
  cores: Array<[number, number]>;
}

export interface UsageWindow {
  /** Average CPU over the window, percent of one core. */
  cpuPercent: number;
  /** Highest RSS seen in the window, MiB. */
  peakRssMiB: number;
  /** Time runnable but not running, percent of the window. */
  runQueueWaitPercent: number;
  /** Busy percent of each core over the window, whoever used it. */
  coreBusyPercent: number[];
  samples: number;
}

/** Samples one process every `intervalMs` until stopped. */
export class ProcessSampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): Sample | undefined {
    const cpu = cpuSeconds(this.pid);
    const rss = rssMiB(this.pid);
    if (cpu === undefined || rss === undefined) return undefined;
    const s = { t: performance.timeOrigin + performance.now(), cpu, rss, wait: runQueueWaitSeconds(this.pid), cores: coreTicks() };
    this.samples.push(s);
    return s;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Usage between two instants (epoch ms); the whole record when omitted or when too few samples fall inside. */
  window(from = -Infinity, to = Infinity): UsageWindow {
    let inside = this.samples.filter((s) => s.t >= from && s.t <= to);
    if (inside.length < 2) inside = this.samples;
    if (inside.length < 2) return { cpuPercent: NaN, peakRssMiB: inside[0]?.rss ?? NaN, runQueueWaitPercent: NaN, coreBusyPercent: [], samples: inside.length };
    const first = inside[0]!;
    const last = inside[inside.length - 1]!;
    const seconds = (last.t - first.t) / 1000;
    return {
      cpuPercent: (100 * (last.cpu - first.cpu)) / seconds,
      peakRssMiB: Math.max(...inside.map((s) => s.rss)),
      runQueueWaitPercent: (100 * (last.wait - first.wait)) / seconds,
      coreBusyPercent: last.cores.map(([busy, total], i) => {
        const [b0, t0] = first.cores[i] ?? [busy, total];
        return total > t0 ? (100 * (busy - b0)) / (total - t0) : NaN;
      }),
      samples: inside.length,
    };
  }
}

/** Busy percent of each core over `ms`. */
export async function coreBusyOver(ms: number): Promise<number[]> {
  const a = coreTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = coreTicks();
  return b.map(([busy, total], i) => {
    const [b0, t0] = a[i] ?? [busy, total];
    return total > t0 ? (100 * (busy - b0)) / (total - t0) : 0;
  });
}

/**
 * Waits (at most `maxMs`) until, with the targets idle, cores 0 and 1 are
 * quiet: busy below the given percents over a 300 ms look. Returns how long
 * it waited and the last look.
 */
export async function waitForQuiet(maxMs: number, core0Max = 15, core1Max = 25): Promise<{ waitedMs: number; quiet: boolean; busy: number[] }> {
  const start = performance.now();
  for (;;) {
    const busy = await coreBusyOver(300);
    const quiet = (busy[0] ?? 0) < core0Max && (busy[1] ?? 0) < core1Max;
    const waitedMs = performance.now() - start;
    if (quiet || waitedMs >= maxMs) return { waitedMs, quiet, busy };
    await new Promise((r) => setTimeout(r, 200));
  }
}
