// Root calls sampled in runs (src/tracing/root-runs.ts): the ratio of calls
// sampled overall, runs of the set length at no fixed period, and trace ids
// drawn so that the SDK's own trace-id ratio sampler agrees with each choice.
// A seeded generator makes every count here the same on every run.
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { RootRuns, RUN_CALLS } from "../src/tracing/root-runs.js";
import { ChosenTraceIds, ratioBound, ratioKey } from "../src/tracing/trace-ids.js";

/** A small seeded generator (mulberry32), uniform in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The decisions for `calls` root calls. */
function decisions(runs: RootRuns, calls: number): boolean[] {
  return Array.from({ length: calls }, () => runs.next());
}

/** Lengths of the stretches of equal decisions, sampled ones and passed-over ones apart. */
function stretches(ds: boolean[]): { sampled: number[]; passed: number[] } {
  const out = { sampled: [] as number[], passed: [] as number[] };
  let length = 0;
  for (let i = 0; i < ds.length; i++) {
    length++;
    if (i + 1 === ds.length || ds[i + 1] !== ds[i]) {
      (ds[i] ? out.sampled : out.passed).push(length);
      length = 0;
    }
  }
  return out;
}

describe("root calls sampled in runs", () => {
  it.each([0.001, 0.01, 0.1, 0.5])("samples %s of the calls overall", (ratio) => {
    const calls = Math.round((4000 * RUN_CALLS) / ratio);
    const runs = new RootRuns(ratio, RUN_CALLS, seeded(7));
    let sampled = 0;
    for (let i = 0; i < calls; i++) if (runs.next()) sampled++;
    // About 4000 runs: the count of runs varies by about 1.6 %.
    expect(sampled / calls).toBeGreaterThan(ratio * 0.95);
    expect(sampled / calls).toBeLessThan(ratio * 1.05);
  });

  it("samples runs of the set length, at gaps of many lengths", () => {
    const { sampled, passed } = stretches(decisions(new RootRuns(0.01, 16, seeded(11)), 2_000_000));
    // Two runs with no gap between them make one stretch of 32, and so on.
    for (const length of sampled) expect(length % 16).toBe(0);
    expect(sampled.filter((l) => l === 16).length / sampled.length).toBeGreaterThan(0.99);
    const gaps = passed.slice(1, -1);
    expect(new Set(gaps).size).toBeGreaterThan(gaps.length * 0.8);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(16 * 99 * 0.95);
    expect(mean).toBeLessThan(16 * 99 * 1.05);
  });

  it("samples every call at ratio 1 and none at ratio 0", () => {
    expect(decisions(new RootRuns(1), 10_000).every(Boolean)).toBe(true);
    expect(decisions(new RootRuns(0), 10_000).some(Boolean)).toBe(false);
  });
});

describe("a trace id drawn within a ratio's bound", () => {
  it.each([0.0001, 0.01, 0.5, 1])("is one the SDK's TraceIdRatioBasedSampler samples at %s", (ratio) => {
    const ids = new ChosenTraceIds();
    const sampler = new TraceIdRatioBasedSampler(ratio);
    const bound = ratioBound(ratio);
    const drawn = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      ids.drawWithin(bound);
      const id = ids.drawnTraceId();
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(id).not.toBe("0".repeat(32));
      expect(ratioKey(Buffer.from(id, "hex")) < bound, id).toBe(true);
      expect(sampler.shouldSample(ROOT_CONTEXT, id).decision, id).toBe(SamplingDecision.RECORD_AND_SAMPLED);
      drawn.add(id);
    }
    expect(drawn.size).toBe(5000);
  });

  it("spreads the ratio key over the whole bound", () => {
    const ids = new ChosenTraceIds();
    const bound = ratioBound(0.01);
    const keys = Array.from({ length: 20_000 }, () => {
      ids.drawWithin(bound);
      return ratioKey(Buffer.from(ids.drawnTraceId(), "hex"));
    });
    // Each tenth of [0, bound) gets about a tenth of the keys.
    const tenths = new Array(10).fill(0);
    for (const k of keys) tenths[Math.floor((k / bound) * 10)]++;
    for (const n of tenths) expect(n).toBeGreaterThan(1700);
  });
});
