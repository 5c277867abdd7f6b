// The fuzz's counts and its report: bodies by protocol and generator, codes
// seen by protocol, and every failing case.
import { describeCase, type FuzzCase } from "./cases.js";
import type { Reply } from "./send.js";
import { prescribed5xx } from "./verdict.js";

const MAX_LISTED = 60;

export class FuzzTally {
  private readonly replies = new Map<number, Reply>();
  private readonly bodies = new Map<string, Map<string, number>>();
  private readonly codes = new Map<string, Map<string, number>>();
  private readonly prescribed = new Map<string, Map<string, number>>();
  private readonly failures: Array<{ what: string; problems: string[] }> = [];
  /** Failures grouped by kind of problem (numbers blanked), with where they came from. */
  private readonly classes = new Map<string, { count: number; where: Set<string>; examples: number[] }>();

  count(c: FuzzCase, reply: Reply): void {
    this.replies.set(c.index, reply);
    bump(this.bodies, c.protocol, c.generator);
    bump(this.codes, c.protocol, reply.hang ? "(hang)" : reply.reset ? "(reset)" : (reply.code ?? "(none)"));
    const prescribed = prescribed5xx(c, reply);
    if (prescribed) bump(this.prescribed, c.protocol, prescribed);
  }

  reply(index: number): Reply | undefined {
    return this.replies.get(index);
  }

  /** A failing case (or, without one, a failure of the run: health, an unattributed log line). */
  fail(what: FuzzCase | string, problems: string[]): void {
    this.failures.push({ what: typeof what === "string" ? what : describeCase(what), problems });
    if (typeof what === "string") return;
    for (const p of new Set(problems.map((p) => p.replace(/(HTTP \d{3})|\d+/g, (_n, http?: string) => http ?? "N").slice(0, 120)))) {
      let k = this.classes.get(p);
      if (!k) {
        k = { count: 0, where: new Set(), examples: [] };
        this.classes.set(p, k);
      }
      k.count++;
      k.where.add(`${what.protocol}/${what.http} ${what.path.path.split("/").pop()} ${what.generator}`);
      if (k.examples.length < 5) k.examples.push(what.index);
    }
  }

  get failed(): boolean {
    return this.failures.length > 0;
  }

  report(run: { seed: number; seconds: number }): string {
    const lines = [`fuzz: seed ${run.seed}, ${this.replies.size} bodies in ${run.seconds.toFixed(1)} s`, "", "bodies by protocol and generator:"];
    lines.push(...table(this.bodies));
    lines.push("", "codes seen by protocol:", ...table(this.codes));
    lines.push("", "of which 5xx the protocol prescribes (not failures):", ...table(this.prescribed), "");
    if (this.failures.length === 0) {
      lines.push("PASS: no INTERNAL, no UNKNOWN, no 5xx, no hang or reset, no server error log; health SERVING");
      return lines.join("\n");
    }
    lines.push(`FAIL: ${this.failures.length} failing case(s)`);
    for (const f of this.failures.slice(0, MAX_LISTED)) lines.push(`  ${f.what}`, ...f.problems.map((p) => `      ${p}`));
    if (this.failures.length > MAX_LISTED) lines.push(`  ... and ${this.failures.length - MAX_LISTED} more`);
    lines.push("", "failing cases by kind of problem (protocol/HTTP procedure generator):");
    for (const [problem, k] of [...this.classes].sort(([, a], [, b]) => b.count - a.count)) {
      lines.push(`  ${k.count} x ${problem}`, `      e.g. --only ${k.examples.join(",")}`, ...[...k.where].sort().map((w) => `      ${w}`));
    }
    return lines.join("\n");
  }
}

function bump(m: Map<string, Map<string, number>>, row: string, column: string): void {
  let r = m.get(row);
  if (!r) {
    r = new Map();
    m.set(row, r);
  }
  r.set(column, (r.get(column) ?? 0) + 1);
}

function table(m: Map<string, Map<string, number>>): string[] {
  return [...m].map(
    ([row, cols]) =>
      `  ${row.padEnd(9)} ${[...cols]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}`,
  );
}
