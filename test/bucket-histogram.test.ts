// BucketHistogram against prom-client's own Histogram: the same observations
// must give the same exposition samples (prom-client is the reference).
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { BucketHistogram } from "../src/metrics/bucket-histogram.js";
import { parseMetrics, type MetricSample } from "./support/scrape-metrics.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];

/** Samples in a fixed order, labels sorted, so two renderings compare as values. */
function canonical(samples: MetricSample[]): string[] {
  return samples
    .map(
      (s) =>
        `${s.name}{${Object.entries(s.labels)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`)
          .join(",")}} ${s.value}`,
    )
    .sort();
}

function pair() {
  const oursRegistry = new Registry();
  const theirsRegistry = new Registry();
  const config = { name: "call_seconds", help: "Call duration.", labelNames: ["method", "code"] as const, buckets: BUCKETS };
  const ours = new BucketHistogram({ ...config, registers: [oursRegistry] });
  const theirs = new Histogram({ ...config, labelNames: [...config.labelNames], registers: [theirsRegistry] });
  return {
    ours,
    theirs,
    observe(labels: { method: string; code: string }, value: number) {
      ours.labels(labels).observe(value);
      theirs.observe(labels, value);
    },
    async render() {
      return {
        ours: canonical(parseMetrics(await oursRegistry.metrics())),
        theirs: canonical(parseMetrics(await theirsRegistry.metrics())),
        oursText: await oursRegistry.metrics(),
        theirsText: await theirsRegistry.metrics(),
      };
    },
  };
}

describe("BucketHistogram", () => {
  it("renders the same samples as prom-client's Histogram, bucket edges included", async () => {
    const p = pair();
    const values = [0, 0.0005, 0.001, 0.0010001, 0.01, 0.05, 0.1, 0.99, 1, 1.5, 30];
    for (const v of values) p.observe({ method: "/a/B", code: "OK" }, v);
    p.observe({ method: "/a/B", code: "INTERNAL" }, 0.2);
    p.observe({ method: "/a/C", code: "OK" }, 0.003);
    const { ours, theirs, oursText, theirsText } = await p.render();
    expect(ours).toEqual(theirs);
    expect(oursText).toBe(theirsText);
    expect(ours.length).toBe(3 * (BUCKETS.length + 1 + 2));
    expect(oursText).toContain("# TYPE call_seconds histogram");
    expect(oursText).toContain("# HELP call_seconds Call duration.");
    expect(oursText).toMatch(/^call_seconds_bucket\{.*le="\+Inf".*\} 11$/m);
  });

  it("keeps one series per label set, whichever way it is reached", async () => {
    const p = pair();
    const a = p.ours.labels({ method: "/a/B", code: "OK" });
    expect(p.ours.labels({ code: "OK", method: "/a/B" })).toBe(a);
    expect(p.ours.labels({ method: "/a/B", code: "INTERNAL" })).not.toBe(a);
  });

  it("ignores values that are not finite numbers, as a metric must never throw into a call", async () => {
    const p = pair();
    const s = p.ours.labels({ method: "/a/B", code: "OK" });
    expect(() => s.observe(Number.NaN)).not.toThrow();
    s.observe(Number.POSITIVE_INFINITY);
    s.observe(0.5);
    const { ours } = await p.render();
    expect(ours).toContain("call_seconds_count{code=OK,method=/a/B} 1");
    expect(ours).toContain("call_seconds_sum{code=OK,method=/a/B} 0.5");
  });

  it("forgets a removed series and everything on reset", async () => {
    const p = pair();
    p.observe({ method: "/a/B", code: "OK" }, 0.5);
    p.observe({ method: "/a/C", code: "OK" }, 0.5);
    p.ours.remove({ method: "/a/B", code: "OK" });
    p.theirs.remove({ method: "/a/B", code: "OK" });
    const { ours, theirs } = await p.render();
    expect(ours).toEqual(theirs);
    expect(ours.some((s) => s.includes("method=/a/B"))).toBe(false);
    p.ours.reset();
    expect((await p.ours.get()).values).toEqual([]);
  });

  it("refuses buckets that are not ascending", () => {
    expect(() => new BucketHistogram({ name: "x", help: "x", labelNames: [], buckets: [1, 1], registers: [] })).toThrow(/ascending/);
  });
});
