// The chart: grouped bars, one group per workload (Predict at c=64, images at
// c=32), one bar per target, on a log scale (floors and images are orders of
// magnitude apart). Plain SVG written by hand; no dependency.
import { bestInProcess, find, T, type Results } from "./results.js";

interface Bar {
  series: string;
  value: number;
  /** Errors under load in that measurement: marked on the bar. */
  errors?: number;
}
interface Group {
  label: string;
  unit: string;
  bars: Bar[];
}

const COLORS: Record<string, string> = {
  [T.server]: "#1f4e9c",
  [T.batchingOn]: "#1f4e9c",
  [T.batchingOff]: "#7fa7e0",
  [T.h2Floor]: "#8a8a8a",
  [T.httpFloor]: "#b9b9b9",
  [T.grpcJs]: "#e08a1e",
  "in-process": "#2e9c4f",
};

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const short = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(0)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v >= 100 ? v.toFixed(0) : v.toFixed(1));

export function chartGroups(r: Results): Group[] {
  const bar = (t: string, w: string, c: number, rows = false): Bar => {
    const m = find(r, t, w, c);
    return { series: t, value: m ? (rows ? m.rowsPerSec : m.okCallsPerSec) : NaN, errors: m?.errors };
  };
  const groups: Group[] = [
    { label: "Predict, gRPC, c=64", unit: "calls/s", bars: [T.server, T.h2Floor, T.grpcJs].map((s) => bar(s, "predict-grpc", 64)) },
    { label: "Predict, Connect JSON, c=64", unit: "calls/s", bars: [T.server, T.httpFloor].map((s) => bar(s, "predict-connect-json", 64)) },
    { label: "Predict, gRPC-Web, c=64", unit: "calls/s", bars: [T.server, T.httpFloor].map((s) => bar(s, "predict-grpc-web", 64)) },
    { label: "PredictBatch(100), c=64", unit: "rows/s", bars: [bar(T.server, "predict-batch-grpc", 64, true)] },
    {
      label: "ClassifyImage 224², c=32",
      unit: "images/s",
      bars: [
        bar(T.batchingOn, "classify-image-grpc", 32),
        bar(T.batchingOff, "classify-image-grpc", 32),
        { series: "in-process", value: bestInProcess(r, 32)?.imagesPerSec ?? NaN },
      ],
    },
  ];
  return groups.map((g) => ({ ...g, bars: g.bars.filter((b) => Number.isFinite(b.value) && b.value > 0) })).filter((g) => g.bars.length > 0);
}

export function renderChart(r: Results): string {
  const groups = chartGroups(r);
  const W = 980;
  const H = 520;
  const left = 70;
  const right = 20;
  const top = 60;
  const bottom = 120;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value));
  const lo = 10 ** Math.floor(Math.log10(Math.max(1, Math.min(...values, 10))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)));
  const y = (v: number) => top + plotH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Throughput per target, log scale (${esc(r.meta.startedAt.slice(0, 16).replace("T", " "))}${r.meta.quick ? ", --quick" : ""})</text>`,
  );
  out.push(
    `<text x="${W / 2}" y="42" text-anchor="middle" fill="#555">server pinned to core 0, generator to core 1; OK calls/s unless marked; higher is better</text>`,
  );
  // Grid and axis: one line per decade, labelled.
  for (let d = lo; d <= hi; d *= 10) {
    const yy = y(d);
    out.push(`<line x1="${left}" x2="${W - right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${yy + 4}" text-anchor="end" fill="#333">${d >= 1000 ? `${d / 1000}k` : d}</text>`);
    for (const k of [2, 5]) {
      if (d * k < hi) out.push(`<line x1="${left}" x2="${W - right}" y1="${y(d * k)}" y2="${y(d * k)}" stroke="#f0f0f0"/>`);
    }
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${left}" x2="${W - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  const groupW = plotW / Math.max(1, groups.length);
  groups.forEach((g, gi) => {
    const barW = Math.min(48, (groupW * 0.8) / g.bars.length);
    const x0 = left + gi * groupW + (groupW - barW * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const x = x0 + bi * barW;
      const yy = y(b.value);
      out.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${COLORS[b.series] ?? "#444"}"><title>${esc(`${b.series}: ${b.value.toFixed(1)} ${g.unit}`)}</title></rect>`,
      );
      out.push(`<text x="${(x + (barW - 4) / 2).toFixed(1)}" y="${(yy - 4).toFixed(1)}" text-anchor="middle" font-size="11">${short(b.value)}</text>`);
      if (b.errors) {
        out.push(
          `<text x="${(x + (barW - 4) / 2).toFixed(1)}" y="${(yy - 17).toFixed(1)}" text-anchor="middle" font-size="10" fill="#c00000">${b.errors} errors</text>`,
        );
      }
    });
    const cx = left + gi * groupW + groupW / 2;
    out.push(`<text x="${cx}" y="${top + plotH + 18}" text-anchor="middle">${esc(g.label)}</text>`);
    out.push(`<text x="${cx}" y="${top + plotH + 33}" text-anchor="middle" fill="#555">${esc(g.unit)}</text>`);
  });
  // Legend.
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  series.forEach((s, i) => {
    const col = i % 4;
    const row = Math.floor(i / 4);
    const x = left + col * 220;
    const yy = H - 50 + row * 18;
    out.push(`<rect x="${x}" y="${yy - 10}" width="12" height="12" fill="${COLORS[s] ?? "#444"}"/>`);
    out.push(`<text x="${x + 18}" y="${yy}">${esc(s)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
