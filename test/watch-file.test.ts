// watchForChanges on a real filesystem: the ways a key file is replaced in
// practice (rewritten in place, replaced by rename, a Kubernetes Secret's
// symlink swap) are each noticed quickly, and nothing after it is stopped.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchForChanges } from "../src/watch-file.js";

const POLL_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("watchForChanges", () => {
  let dir: string;
  let calls: number;
  let stop: () => void;
  const waitForCall = async (before: number, ms = 3000) => {
    const t0 = Date.now();
    while (calls === before && Date.now() - t0 < ms) await sleep(10);
    return calls > before;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "pred-watch-"));
    calls = 0;
    stop = () => {};
  });
  afterEach(() => {
    stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sees a file rewritten in place and a file replaced by rename", async () => {
    const file = join(dir, "keys.json");
    writeFileSync(file, "one");
    stop = watchForChanges(file, () => calls++, POLL_MS);
    writeFileSync(file, "two");
    expect(await waitForCall(0)).toBe(true);
    await sleep(100);
    const before = calls;
    writeFileSync(join(dir, ".keys.json.tmp"), "three");
    renameSync(join(dir, ".keys.json.tmp"), file);
    expect(await waitForCall(before)).toBe(true);
  });

  it("sees a Kubernetes Secret update: the ..data symlink swapped to a new directory", async () => {
    // The kubelet's layout: keys.json -> ..data/keys.json, ..data -> ..<timestamp>/.
    mkdirSync(join(dir, "..v1"));
    writeFileSync(join(dir, "..v1", "keys.json"), "one");
    symlinkSync("..v1", join(dir, "..data"));
    symlinkSync(join("..data", "keys.json"), join(dir, "keys.json"));
    stop = watchForChanges(join(dir, "keys.json"), () => calls++, POLL_MS);
    mkdirSync(join(dir, "..v2"));
    writeFileSync(join(dir, "..v2", "keys.json"), "two");
    symlinkSync("..v2", join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    expect(await waitForCall(0)).toBe(true);
  });

  it("polls where the directory cannot be watched (here: it does not exist yet)", async () => {
    const file = join(dir, "later", "keys.json");
    stop = watchForChanges(file, () => calls++, 50);
    // Past the poll's first look (Node may report the missing file once).
    await sleep(300);
    const before = calls;
    mkdirSync(join(dir, "later"));
    writeFileSync(file, "one");
    expect(await waitForCall(before, 2000)).toBe(true);
  });

  it("calls nothing once stopped", async () => {
    const file = join(dir, "keys.json");
    writeFileSync(file, "one");
    watchForChanges(file, () => calls++, 50)();
    writeFileSync(file, "two");
    await sleep(300);
    expect(calls).toBe(0);
  });
});
