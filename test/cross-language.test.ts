// A non-Node gRPC client against the real server: Python grpcio (gRPC core,
// h2c with prior knowledge) with message classes built at run time from the
// contract's FileDescriptorSet, as a Python team would call us without stubs.
// The client is test/clients/python_client.py; it prints JSON we check here.
//
// Needs Debian's python3-grpcio and python3-protobuf for /usr/bin/python3
// (.ci/run installs them). Without them this file FAILS; it never skips.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);

const PYTHON = "/usr/bin/python3";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLIENT = join(ROOT, "test/clients/python_client.py");

interface Violation {
  field: string;
  reason: string;
  description: string;
}

/** What python_client.py prints; which fields are set depends on the command and outcome. */
interface ClientResult {
  code: string;
  // failed calls
  details?: string;
  violations?: Violation[] | null;
  trailer_keys?: string[];
  status_code?: number;
  status_message?: string;
  // predict
  decision?: string;
  probability?: number;
  approval_probability?: number;
  model_name?: string;
  model_version?: string;
  timestamp_seconds?: number;
  factors?: Array<{ feature: string; contribution: number; description: string }>;
  header_keys?: string[];
  // batch
  decisions?: string[];
  approval_probabilities?: number[];
  processing_time_set?: boolean;
  // health
  status?: string;
}

/** Why /usr/bin/python3 cannot run the client, or undefined if it can. */
async function pythonGrpcProblem(): Promise<Error | undefined> {
  try {
    await run(PYTHON, ["-c", "import grpc, google.protobuf"], { timeout: 30_000 });
    return undefined;
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || String(err);
    return new Error(
      `${PYTHON} cannot import grpc and google.protobuf: install the Debian packages ` +
        `python3-grpcio and python3-protobuf (apt-get install -y python3-grpcio python3-protobuf; ` +
        `.ci/run does this). Cause: ${detail}`,
    );
  }
}

let server: TestServer;
let pythonProblem: Error | undefined;
let tmp: string | undefined;
let descriptorSet: string;

beforeAll(async () => {
  // Checked here, thrown by every test (not by this hook), so a missing
  // package shows as failed tests with the fix in the message.
  pythonProblem = await pythonGrpcProblem();
  tmp = await mkdtemp(join(tmpdir(), "cross-language-"));
  descriptorSet = join(tmp, "prediction.binpb");
  // buf includes imports (google/protobuf/*, google/rpc/*) by default;
  // --as-file-descriptor-set drops buf's own image metadata.
  const build = run("npx", ["buf", "build", "--as-file-descriptor-set", "-o", descriptorSet], {
    cwd: ROOT,
    timeout: 50_000,
  });
  [server] = await Promise.all([startTestServer(), build]);
});

afterAll(async () => {
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function python(command: string, key = API_KEY): Promise<ClientResult> {
  if (pythonProblem) throw pythonProblem;
  const target = `127.0.0.1:${server.port}`;
  let stdout: string;
  try {
    ({ stdout } = await run(PYTHON, [CLIENT, command, target, key, descriptorSet], { cwd: ROOT, timeout: 20_000 }));
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`python_client.py ${command} failed: ${e.message}\nstdout: ${e.stdout}\nstderr: ${e.stderr}`);
  }
  try {
    return JSON.parse(stdout) as ClientResult;
  } catch {
    throw new Error(`python_client.py ${command} printed no JSON: ${JSON.stringify(stdout)}`);
  }
}

function expectConsistentDecision(decision: string | undefined, approvalProbability: number | undefined): void {
  expect(["DECISION_APPROVED", "DECISION_DENIED"]).toContain(decision);
  expect(approvalProbability).toBeGreaterThanOrEqual(0);
  expect(approvalProbability).toBeLessThanOrEqual(1);
  expect(decision === "DECISION_APPROVED").toBe(approvalProbability! >= 0.5);
}

describe("a Python grpcio client (h2c, descriptors loaded at run time)", () => {
  it("has /usr/bin/python3 with grpcio and protobuf", () => {
    if (pythonProblem) throw pythonProblem;
  });

  it("predicts with the key in x-api-key metadata", async () => {
    const r = await python("predict");
    expect(r.code).toBe("OK");
    expectConsistentDecision(r.decision, r.approval_probability);
    expect(r.probability).toBeGreaterThanOrEqual(0.5);
    expect(r.probability).toBeLessThanOrEqual(1);
    expect(r.probability).toBeCloseTo(Math.max(r.approval_probability!, 1 - r.approval_probability!), 12);
    expect(r.model_name).toBe("loan-approval");
    expect(r.model_version).toBe("1");
    expect(Math.abs(r.timestamp_seconds! * 1000 - Date.now())).toBeLessThan(60_000);
    expect(r.factors!.length).toBeGreaterThan(0);
    expect(r.factors!.length).toBeLessThanOrEqual(3);
    for (const f of r.factors!) {
      expect(f.feature).not.toBe("");
      expect(f.description).not.toBe("");
    }
    // Response headers reach the Python client as initial metadata.
    expect(r.header_keys).toContain("x-request-id");
  });

  it("gets UNAUTHENTICATED without a key, or with a wrong one", async () => {
    const missing = await python("no-key");
    expect(missing.code).toBe("UNAUTHENTICATED");
    expect(missing.details).toBe("missing or invalid API key");
    expect(missing.violations).toBeNull();

    const wrong = await python("predict", `${API_KEY}x`);
    expect(wrong.code).toBe("UNAUTHENTICATED");
    expect(wrong.details).toBe("missing or invalid API key");
  });

  it("gets INVALID_ARGUMENT naming both fields, with google.rpc.BadRequest in grpc-status-details-bin", async () => {
    const r = await python("invalid");
    expect(r.code).toBe("INVALID_ARGUMENT");
    expect(r.details).toContain("age must be at least 18 (got 17)");
    expect(r.details).toContain("credit_score must be at most 850 (got 900)");
    expect(r.trailer_keys).toContain("grpc-status-details-bin");
    // The google.rpc.Status in the trailer agrees with grpc-status/grpc-message.
    expect(r.status_code).toBe(3);
    expect(r.status_message).toBe(r.details);
    expect(r.violations?.map((v) => [v.field, v.reason])).toEqual([
      ["age", "GTE"],
      ["credit_score", "LTE"],
    ]);
  });

  it("predicts a batch of 3, in input order", async () => {
    const r = await python("batch");
    expect(r.code).toBe("OK");
    expect(r.decisions).toHaveLength(3);
    expect(r.approval_probabilities).toHaveLength(3);
    for (const [i, d] of r.decisions!.entries()) expectConsistentDecision(d, r.approval_probabilities![i]);
    // inputs[1] is a strong applicant, inputs[2] a weak one (as STRONG/WEAK in support/applications.ts).
    expect(r.decisions![1]).toBe("DECISION_APPROVED");
    expect(r.decisions![2]).toBe("DECISION_DENIED");
    expect(r.processing_time_set).toBe(true);
  });

  it("sees grpc.health.v1.Health SERVING, without a key", async () => {
    const r = await python("health", "");
    expect(r).toEqual({ code: "OK", status: "SERVING" });
  });
});
