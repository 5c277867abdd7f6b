// LOG_FORMAT: JSON lines by default, human-readable lines with "pretty", and
// a configuration error for anything else. The server itself is started
// (src/main.ts), as a person would from a terminal.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

/**
 * Runs the server, sends SIGTERM once `stopWhen` matches its stdout (a model
 * loaded: by then main.ts handles the signal), and returns what it wrote by
 * the time it exited.
 */
function runServer(env: Record<string, string>, stopWhen: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: "0",
      METRICS_PORT: "0",
      HOST: "127.0.0.1",
      API_KEYS: "log-format-key",
      WORKERS: "1",
      INFERENCE_WORKERS: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let stopping = false;
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    if (!stopping && stopWhen.test(stdout)) stopping = child.kill("SIGTERM");
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe("LOG_FORMAT", () => {
  it("is json unless set, accepts pretty, and refuses anything else naming the setting", () => {
    expect(loadConfig({}).logFormat).toBe("json");
    expect(loadConfig({ LOG_FORMAT: "" }).logFormat).toBe("json");
    expect(loadConfig({ LOG_FORMAT: "pretty" }).logFormat).toBe("pretty");
    expect(loadConfig({ LOG_FORMAT: "JSON" }).logFormat).toBe("json");
    for (const bad of ["text", "pretty-json", "1"]) {
      expect(() => loadConfig({ LOG_FORMAT: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ LOG_FORMAT: bad })).toThrow(`LOG_FORMAT must be one of json, pretty, got "${bad}"`);
    }
  });

  it("pretty prints human-readable lines: time, level, message, then the fields", async () => {
    const { stdout } = await runServer({ LOG_FORMAT: "pretty" }, /model version ready/);
    const lines = stdout.split("\n").filter((l) => l !== "");
    const listening = lines.find((l) => l.includes("listening (gRPC, gRPC-Web, Connect)"));
    expect(listening, stdout).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): listening \(gRPC, gRPC-Web, Connect\)$/);
    // Fields follow on indented lines of their own, no colour codes off a terminal.
    expect(stdout).toMatch(/\n {4}host: "127\.0\.0\.1"\n/);
    expect(stdout).not.toContain("\u001b[");
    for (const line of lines) expect(() => JSON.parse(line), line).toThrow();
    expect(stdout).toMatch(/INFO \(\d+\): stopped/);
  });

  it("is JSON lines by default", async () => {
    const { stdout } = await runServer({}, /model version ready/);
    const lines = stdout.split("\n").filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ service: "prediction-server" });
    expect(stdout).toContain('"msg":"stopped"');
  });

  it("makes the server exit with a configuration error for an unknown format", async () => {
    const { code, stdout, stderr } = await runServer({ LOG_FORMAT: "xml" }, /never/);
    expect(code).toBe(2);
    expect(stderr).toContain('configuration error: LOG_FORMAT must be one of json, pretty, got "xml"');
    expect(stdout).toBe("");
  });
});
