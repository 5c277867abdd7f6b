// Retraining reproduces the shipped loan model's card: the documented
// command, run into a copy of the model's directory, gives the metrics in
// metrics.json and writes nothing but its three files (serving settings in
// config.json stay byte-identical).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const SHIPPED = join(REPO, "models", "loan-approval");
/** Metrics are stored to 4 decimals: a retrain in the recorded environment matches exactly; elsewhere, to this. */
const TOLERANCE = 1e-4;
const WRITES = ["MODEL_CARD.md", "metrics.json", "model.onnx"];

/** Every file under dir, with a hash of its bytes. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out[relative(dir, path)] = createHash("sha256").update(readFileSync(path)).digest("hex");
  }
  return out;
}

/** Numeric leaves of a metrics object by path; the environment it records is compared apart. */
function numbers(value: unknown, path = ""): [string, number][] {
  if (typeof value === "number") return [[path, value]];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => (k === "environment" ? [] : numbers(v, path ? `${path}.${k}` : k)));
}

describe("npm run train:loan", () => {
  let root: string;
  let before: Record<string, string>;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "loan-retrain-"));
    cpSync(SHIPPED, join(root, "loan-approval"), { recursive: true });
    rmSync(join(root, "loan-approval", "1"), { recursive: true });
    before = snapshot(root);
    execFileSync(process.execPath, ["--import", "tsx", "scripts/train-loan-model.ts", "--out", join(root, "loan-approval", "1")], { cwd: REPO, stdio: "pipe" });
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("writes only the model, its metrics and its card, and leaves config.json byte-identical", () => {
    const after = snapshot(root);
    expect(Object.keys(after).sort()).toEqual([...Object.keys(before), ...WRITES.map((f) => join("loan-approval", "1", f))].sort());
    for (const [path, hash] of Object.entries(before)) expect(after[path], path).toBe(hash);
    expect(readFileSync(join(root, "loan-approval", "config.json"))).toEqual(readFileSync(join(SHIPPED, "config.json")));
  });

  it(`reproduces every number of the shipped metrics.json within ${TOLERANCE}`, () => {
    const shipped = JSON.parse(readFileSync(join(SHIPPED, "1", "metrics.json"), "utf8"));
    const retrained = JSON.parse(readFileSync(join(root, "loan-approval", "1", "metrics.json"), "utf8"));
    const expected = numbers(shipped);
    expect(expected.length).toBeGreaterThan(40);
    expect(numbers(retrained).map(([k]) => k)).toEqual(expected.map(([k]) => k));
    const got = Object.fromEntries(numbers(retrained));
    for (const [path, value] of expected) expect(Math.abs(got[path] - value), path).toBeLessThanOrEqual(TOLERANCE);
    expect(retrained.version).toBe(shipped.version);
  });

  it("reproduces the shipped model and card byte for byte in the environment the card records", ({ skip }) => {
    const shipped = JSON.parse(readFileSync(join(SHIPPED, "1", "metrics.json"), "utf8"));
    const retrained = JSON.parse(readFileSync(join(root, "loan-approval", "1", "metrics.json"), "utf8"));
    // Another Node or package version: the metrics test above is the check.
    if (JSON.stringify(retrained.environment) !== JSON.stringify(shipped.environment)) skip();
    for (const f of WRITES) expect(readFileSync(join(root, "loan-approval", "1", f)).equals(readFileSync(join(SHIPPED, "1", f))), f).toBe(true);
  });
});
