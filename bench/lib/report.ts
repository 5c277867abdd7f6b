// Reporting: the markdown page (checks, ratios, every measurement), the
// console summary, and the JSON summary (medians, not every run).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PREDICT_CHECK_LEVEL, ratioRows, T, type Results } from "./results.js";
import { summarize, summaryJson } from "./summary.js";
import { renderChart } from "./svg.js";

const num = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v) ? "–" : v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? "–" : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

export function checkRows(r: Results): string[][] {
  return r.checks.map((c) => [
    !Number.isFinite(c.value) ? "NOT MEASURED" : c.pass ? "**PASS**" : "**FAIL**",
    c.name,
    c.target.includes("ms") || c.target.includes(" s") || c.target.includes("MB")
      ? `${num(c.value, 2)}${c.target.includes("ms") ? " ms" : c.target.includes("MB") ? " MB" : " s"}`
      : num(c.value, 2),
    c.target,
    c.formula,
    c.note ?? "",
  ]);
}

export function markdown(r: Results): string {
  const m = r.meta;
  const out: string[] = [];
  out.push(`# Benchmark results${m.quick ? " (--quick smoke run: short, few concurrencies; not for decisions)" : ""}`);
  out.push("");
  out.push(`Run ${m.startedAt} → ${m.finishedAt ?? "?"}; \`npm run bench${m.quick ? " -- --quick" : ""}${m.only ? ` --only ${m.only.join(",")}` : ""}\`.`);
  out.push("");
  out.push(`- Build: ${m.build ?? "not recorded"}.`);
  out.push(
    `- Machine: ${m.cpu}, ${m.cores} cores; load average before ${m.loadavgBefore.map((x) => x.toFixed(2)).join(" ")}, after ${(m.loadavgAfter ?? []).map((x) => x.toFixed(2)).join(" ")} (a shared machine: other work may run).`,
  );
  out.push(`- Pinning: ${m.pinning}.`);
  out.push(
    `- Each measurement: ${m.warmupS} s warm-up, then ${m.durationS} s measured; Predict workloads at c = ${m.levels.join(", ")}; images at c = ${m.imageLevels.join(", ")}.`,
  );
  out.push(
    `- h2load streams in flight = connections × streams per connection: ${Object.entries(m.h2loadShapes)
      .map(([c, s]) => `c=${c} → ${s}`)
      .join(", ")}. wrk: one thread, c connections, one request in flight each.`,
  );
  out.push(
    `- Real server: \`node dist/src/main.js\` with ${Object.entries(m.serverEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}; stdout (info log, one line per call) into a pipe the bench drains.`,
  );
  out.push(`- Tools: ${Object.values(m.tools).join("; ")}.`);
  out.push(`- Image model batching: ON ${JSON.stringify(m.imageBatching.on)}, OFF ${JSON.stringify(m.imageBatching.off)}.`);
  if (m.loanBatching) {
    out.push(
      `- Loan model batching: ${JSON.stringify(m.loanBatching.on)} on the server (as shipped), ${JSON.stringify(m.loanBatching.off)} on "${T.batchingOff}", which also takes part in the Predict gRPC rounds at c=${PREDICT_CHECK_LEVEL} (not a target).`,
    );
  }
  out.push("");
  out.push("## Target checks");
  out.push("");
  out.push(table(["result", "check", "value", "target", "how", "notes"], checkRows(r)));
  out.push("");
  out.push("## Ratios against the references (same run)");
  out.push("");
  out.push(
    table(
      ["workload", "c", "measured", "value", "reference", "reference value", "ratio"],
      ratioRows(r).map((x) => [
        x.workload,
        String(x.concurrency),
        x.server,
        `${num(x.serverValue)} ${x.unit}`,
        x.reference,
        num(x.referenceValue),
        num(x.ratio, 2),
      ]),
    ),
  );
  out.push("");
  out.push("## Every measurement");
  out.push("");
  out.push(
    "calls/s and latencies are the generator's (h2load: per-request log of the measured period; wrk: its histogram); OK calls/s takes out the share that failed (h2load cannot see a gRPC error: the server's own counters give it); rows/s = OK calls/s × rows per call. " +
      "errors = generator errors (non-2xx, socket errors, timeouts; gRPC-Web: grpc-status ≠ 0) + server non-OK calls from /metrics (real server; CANCELLED from runs cut off at the end excluded, shown apart). " +
      "CPU % is of one core, over the measured period; ⚠ = generator ≥ 90 % of its core. " +
      "foreign = CPU used by other processes on the target's core (core 0 busy − target) and on the generator's core (core 1 busy − generator − this orchestrator): " +
      "a run with more than 10 % foreign on core 0, or with core 1 over 90 % busy and more than 10 % foreign there, is measured again once and the quieter attempt kept (2nd try). " +
      "mean batch = rows per ONNX Runtime run of the model during the run (dynamic batching).",
  );
  out.push("");
  out.push(
    table(
      [
        "target",
        "workload",
        "c",
        "shape",
        "calls/s",
        "OK calls/s",
        "rows/s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "server non-OK",
        "cancelled",
        "server CPU %",
        "server peak RSS MiB",
        "gen CPU %",
        "bench CPU %",
        "foreign core0/core1 %",
        "mean batch",
        "status",
      ],
      r.measurements.map((x) => [
        x.target,
        x.workload,
        String(x.concurrency),
        x.shape ?? (x.workload.includes("connect") || x.workload.includes("web") ? `${x.concurrency} conn` : ""),
        num(x.callsPerSec),
        num(x.okCallsPerSec),
        x.rowsPerSec !== x.okCallsPerSec ? num(x.rowsPerSec) : "",
        ms(x.latency?.p50),
        ms(x.latency?.p99),
        ms(x.latency?.p999),
        ms(x.latency?.max),
        String(x.errors),
        x.serverNonOk
          ? Object.entries(x.serverNonOk)
              .map(([k, v]) => `${k}:${v}`)
              .join(" ") || "0"
          : "n/a",
        x.serverCancelled === undefined ? "n/a" : String(x.serverCancelled),
        num(x.serverCpuPercent),
        num(x.serverPeakRssMiB),
        `${num(x.generatorCpuPercent)}${x.generatorSaturated ? " ⚠" : ""}`,
        num(x.orchestratorCpuPercent),
        `${num(x.foreignCore0Percent)}/${num(x.foreignCore1Percent)}${x.attempts > 1 ? " (2nd try)" : ""}`,
        x.meanBatchRows === undefined ? "" : num(x.meanBatchRows, 1),
        x.status === "ok" ? "ok" : `**${x.status}**: ${x.detail ?? ""}`,
      ]),
    ),
  );
  out.push("");
  if (r.inProcess.length) {
    out.push("## In-process image reference (no RPC)");
    out.push("");
    out.push(
      "Same JPEG, the repository's preprocessing (sharp) and the model through its InferencePool (1 worker), pinned to core 0 like the server. " +
        "`pool` = one session.run per image; `engine` = through ServedVersion (the server's dynamic batcher, same batching config as batching ON).",
    );
    out.push("");
    out.push(
      table(
        ["mode", "c", "images/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU %", "peak RSS MiB", "foreign core0 % (mode's whole run)"],
        r.inProcess.map((p) => [
          p.mode,
          String(p.concurrency),
          num(p.imagesPerSec, 1),
          ms(p.latency.p50),
          ms(p.latency.p99),
          ms(p.latency.p999),
          num(p.cpuPercent),
          num(p.peakRssMiB),
          num(p.foreignCore0Percent),
        ]),
      ),
    );
    out.push("");
  }
  if (r.startup.length) {
    out.push("## Start-up and idle memory (real server, shipped models)");
    out.push("");
    out.push(
      table(
        ["start", "spawn → SERVING s", "idle RSS MiB", "idle RSS MB", "settle s"],
        r.startup.map((s, i) => [
          String(i + 1),
          (s.toServingMs / 1000).toFixed(3),
          s.idleRssMiB.toFixed(1),
          ((s.idleRssMiB * 2 ** 20) / 1e6).toFixed(1),
          (s.settleMs / 1000).toFixed(1),
        ]),
      ),
    );
    out.push("");
  }
  out.push("## Problems seen");
  out.push("");
  out.push(r.problems.length ? r.problems.map((p) => `- ${p}`).join("\n") : "None.");
  out.push("");
  out.push("## Server logs");
  out.push("");
  for (const [name, l] of Object.entries(r.serverLogs)) {
    out.push(
      `- ${name}: ${l.lines.toLocaleString("en-US")} lines, ${(l.bytes / 2 ** 20).toFixed(1)} MiB drained; ${l.problems.length} warn/error lines${l.problems.length ? ` (first: \`${l.problems[0]!.slice(0, 300)}\`)` : ""}`,
    );
  }
  out.push("");
  out.push("## Command lines");
  out.push("");
  out.push("```");
  out.push(...m.commands);
  out.push("```");
  out.push("");
  return out.join("\n");
}

export function consoleSummary(r: Results): string {
  const lines = ["", "Target checks:"];
  for (const c of r.checks) {
    if (!Number.isFinite(c.value)) {
      lines.push(`  ----  ${c.name}: not measured in this run (target ${c.target})`);
      continue;
    }
    lines.push(`  ${c.pass ? "PASS" : "FAIL"}  ${c.name}: ${c.value.toFixed(2)} (target ${c.target})${c.note ? ` - ${c.note}` : ""}`);
  }
  lines.push("", "Ratios:");
  for (const x of ratioRows(r)) {
    lines.push(
      `  ${x.workload.padEnd(22)} c=${String(x.concurrency).padEnd(4)} ${x.server} ${num(x.serverValue)} / ${x.reference} ${num(x.referenceValue)} = ${num(x.ratio, 2)}`,
    );
  }
  if (r.problems.length) lines.push("", "Problems:", ...r.problems.map((p) => `  - ${p}`));
  return lines.join("\n");
}

export function writeResults(dir: string, r: Results): string[] {
  const files = [join(dir, "latest.json"), join(dir, "latest.md"), join(dir, "latest.svg")];
  writeFileSync(files[0]!, summaryJson(summarize(r)));
  writeFileSync(files[1]!, markdown(r));
  writeFileSync(files[2]!, renderChart(r));
  return files;
}
