// The per-call log line: the same fields whichever way CallLog writes it
// (through a child logger bound to method, protocol and code, or whole once
// the cap on such loggers is reached), at info for routine calls and error
// for server faults.
import { Code } from "@connectrpc/connect";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { CallLog, codeName, type CallRecord } from "../src/policy/call-log.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info", base: { service: "test" } }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log: new CallLog(logger), lines };
}

const write = (log: CallLog, rec: CallRecord) => log.write(rec, codeName(rec.code));

describe("CallLog", () => {
  it("writes one line per call with method, protocol, code, request id and duration", () => {
    const { log, lines } = capture();
    const rec: CallRecord = { requestId: "r1", method: "/prediction.v1.PredictionService/Predict", protocol: "grpc", code: 0, durationMs: 1.23456 };
    write(log, rec);
    write(log, { ...rec, requestId: "r2", durationMs: 2 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: "call",
      service: "test",
      requestId: "r1",
      method: rec.method,
      protocol: "grpc",
      code: "OK",
      durationMs: 1.235,
    });
    expect(lines[1]).toMatchObject({ requestId: "r2", code: "OK", durationMs: 2 });
    expect(lines[0]).not.toHaveProperty("error");
  });

  it("adds the client's error message, at info for a client mistake and at error for a server fault", () => {
    const { log, lines } = capture();
    const base = { method: "/prediction.v1.PredictionService/Predict", protocol: "connect" as const, durationMs: 0.5 };
    write(log, { ...base, requestId: "bad", code: Code.InvalidArgument, error: "age: must be >= 18" });
    write(log, { ...base, requestId: "ours", code: Code.Internal, error: "inference failed", fault: true });
    expect(lines[0]).toMatchObject({ level: 30, requestId: "bad", code: "INVALID_ARGUMENT", error: "age: must be >= 18", protocol: "connect" });
    expect(lines[1]).toMatchObject({ level: 50, requestId: "ours", code: "INTERNAL", error: "inference failed" });
  });

  it("names the call's API key, and leaves the field out for a call without one, under the logger cap and past it", () => {
    const { log, lines } = capture();
    const base = { method: "/prediction.v1.PredictionService/Predict", protocol: "grpc" as const, code: 0 as const, durationMs: 1 };
    write(log, { ...base, requestId: "a", key: "batch-jobs" });
    write(log, { ...base, requestId: "b", key: "web" });
    write(log, { ...base, requestId: "c" });
    for (let i = 0; i < 300; i++) write(log, { ...base, requestId: `k${i}`, key: `key-${i}` });
    expect(lines[0]).toMatchObject({ requestId: "a", key: "batch-jobs" });
    expect(lines[1]).toMatchObject({ requestId: "b", key: "web" });
    expect(lines[2]).not.toHaveProperty("key");
    for (const [i, line] of lines.slice(3).entries()) expect(line).toMatchObject({ requestId: `k${i}`, key: `key-${i}`, code: "OK" });
  });

  it("keeps every field right for any number of distinct methods (client-chosen names are not all given a logger)", () => {
    const { log, lines } = capture();
    for (let i = 0; i < 600; i++)
      write(log, {
        requestId: `r${i}`,
        method: `/unknown.Service/M${i}`,
        protocol: "grpc-web",
        code: Code.Unimplemented,
        durationMs: i,
        error: "no such method",
      });
    // A method seen before the cap keeps its own logger after it.
    write(log, { requestId: "again", method: "/unknown.Service/M0", protocol: "grpc-web", code: Code.Unimplemented, durationMs: 1 });
    expect(lines).toHaveLength(601);
    for (const [i, line] of lines.slice(0, 600).entries()) {
      expect(line).toMatchObject({
        requestId: `r${i}`,
        method: `/unknown.Service/M${i}`,
        protocol: "grpc-web",
        code: "UNIMPLEMENTED",
        durationMs: i,
        error: "no such method",
      });
    }
    expect(lines[600]).toMatchObject({ requestId: "again", method: "/unknown.Service/M0", code: "UNIMPLEMENTED" });
  });
});
