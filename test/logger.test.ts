// The process logger buffers lines (one write per 32 KiB): check that a line
// never waits for more company, and that none is lost when the process exits.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const LOGGER = fileURLToPath(new URL("../src/logger.ts", import.meta.url));

/** Runs a script that has `log` (the real logger at info) and reports each stdout line as it arrives. */
function runWithLogger(body: string, onLine: (line: string, kill: () => void) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)}; const log = createLogger("info"); ${body}`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let partial = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line, () => child.kill("SIGKILL"));
  });
  return new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
}

describe("createLogger", () => {
  it("writes a lone line while the process keeps running (the flush timer), not only at exit", async () => {
    let seen = false;
    // The child would run for 20 s; it is killed (no exit handlers) as soon as its line arrives.
    const end = await runWithLogger(`log.info("lonely"); setTimeout(() => {}, 20_000);`, (line, kill) => {
      if (line.includes('"msg":"lonely"')) {
        seen = true;
        kill();
      }
    });
    expect(seen).toBe(true);
    expect(end.signal).toBe("SIGKILL");
  });

  it("writes every buffered line when the process exits right after logging", async () => {
    const lines: string[] = [];
    const end = await runWithLogger(`for (let i = 0; i < 50; i++) log.info({ i }, "burst"); process.exit(3);`, (line) => lines.push(line));
    expect(end.code).toBe(3);
    const burst = lines.map((l) => JSON.parse(l) as { msg: string; i: number }).filter((l) => l.msg === "burst");
    expect(burst.map((l) => l.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
