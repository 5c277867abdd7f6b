// Every rule the contract declares, at its bound and just past it: first as a
// plain function (no server), then through the real server's interceptor.
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClassifyImageRequestSchema, type LoanPurpose, PredictBatchRequestSchema, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { allViolations, findViolations, keepsRules } from "../src/policy/field-violations.js";
import { rng } from "./support/random-messages.js";
import { applications, VALID, type Application } from "./support/applications.js";
import { PROTOCOL_CLIENTS, type ProtocolClient } from "./support/protocol-clients.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

type Case = [name: string, change: Partial<Application>, violation: [field: string, rule: string] | null];

const CASES: Case[] = [
  ["age at 18", { age: 18, employmentYears: 4 }, null],
  ["age at 17", { age: 17 }, ["age", "GTE"]],
  ["age at 120", { age: 120 }, null],
  ["age at 121", { age: 121 }, ["age", "LTE"]],
  ["income at 1", { income: 1 }, null],
  ["income just below 1", { income: 0.99 }, ["income", "GTE"]],
  ["income at 0", { income: 0 }, ["income", "GTE"]],
  ["income negative", { income: -1 }, ["income", "GTE"]],
  ["income at 1e9", { income: 1e9 }, null],
  ["income just above 1e9", { income: 1e9 + 1 }, ["income", "LTE"]],
  ["income 1e39 (finite, past float32)", { income: 1e39 }, ["income", "LTE"]],
  ["income NaN", { income: Number.NaN }, ["income", "FINITE"]],
  ["income Infinity", { income: Number.POSITIVE_INFINITY }, ["income", "FINITE"]],
  ["credit_score at 300", { creditScore: 300 }, null],
  ["credit_score at 299", { creditScore: 299 }, ["credit_score", "GTE"]],
  ["credit_score at 850", { creditScore: 850 }, null],
  ["credit_score at 851", { creditScore: 851 }, ["credit_score", "LTE"]],
  ["employment_years at 0", { employmentYears: 0 }, null],
  ["employment_years just below 0", { employmentYears: -0.01 }, ["employment_years", "GTE"]],
  ["employment_years -Infinity", { employmentYears: Number.NEGATIVE_INFINITY }, ["employment_years", "FINITE"]],
  ["employment_years at 80 (age 94)", { age: 94, employmentYears: 80 }, null],
  ["employment_years above 80 (age 120)", { age: 120, employmentYears: 80.5 }, ["employment_years", "LTE"]],
  ["employment_years at age - 14", { age: 35, employmentYears: 21 }, null],
  ["employment_years above age - 14", { age: 35, employmentYears: 21.5 }, ["employment_years", "LTE_FIELD"]],
  ["employment_years above age - 14 at age 18", { age: 18, employmentYears: 4.1 }, ["employment_years", "LTE_FIELD"]],
  ["employment_years too long for an age that is itself invalid", { age: 17, employmentYears: 10 }, ["age", "GTE"]],
  ["loan_amount just above 0", { loanAmount: 0.01 }, null],
  ["loan_amount at 0", { loanAmount: 0 }, ["loan_amount", "GT"]],
  ["loan_amount NaN", { loanAmount: Number.NaN }, ["loan_amount", "FINITE"]],
  ["loan_amount at 1e9", { loanAmount: 1e9 }, null],
  ["loan_amount just above 1e9", { loanAmount: 1e9 + 1 }, ["loan_amount", "LTE"]],
  ["loan_amount 1e39 (finite, past float32)", { loanAmount: 1e39 }, ["loan_amount", "LTE"]],
  ["loan_purpose EDUCATION", { loanPurpose: 3 }, null],
  ["loan_purpose PERSONAL (highest)", { loanPurpose: 4 }, null],
  ["loan_purpose UNSPECIFIED", { loanPurpose: 0 }, ["loan_purpose", "DEFINED_NOT_UNSPECIFIED"]],
  ["loan_purpose undeclared number", { loanPurpose: 5 as LoanPurpose }, ["loan_purpose", "DEFINED_NOT_UNSPECIFIED"]],
];

describe("field rules, as plain functions", () => {
  it.each(CASES)("%s", (_name, change, violation) => {
    const found = findViolations(PredictRequestSchema, create(PredictRequestSchema, { ...VALID, ...change }));
    expect(found.map((v) => [v.field, v.rule])).toEqual(violation ? [violation] : []);
  });

  it("reports every violation of a message, not just the first", () => {
    const found = findViolations(PredictRequestSchema, create(PredictRequestSchema, {}));
    expect(found.map((v) => v.field)).toEqual(["age", "income", "credit_score", "loan_amount", "loan_purpose"]);
  });

  it("names the other field and both values when one field bounds another", () => {
    const found = findViolations(PredictRequestSchema, create(PredictRequestSchema, { ...VALID, age: 30, employmentYears: 20 }));
    expect(found).toEqual([{ field: "employment_years", rule: "LTE_FIELD", description: "must be at most age - 14 (got 20 with age 30)" }]);
  });

  it("refuses income = loan_amount = 1e39 naming both fields, rather than answering NaN", () => {
    const found = findViolations(PredictRequestSchema, create(PredictRequestSchema, { ...VALID, income: 1e39, loanAmount: 1e39 }));
    expect(found.map((v) => `${v.field} ${v.rule}`)).toEqual(["income LTE", "loan_amount LTE"]);
  });

  it("names the row and field of every bad batch item, in order", () => {
    const inputs = applications(5);
    inputs[1] = { ...inputs[1], age: 17 };
    inputs[3] = { ...inputs[3], income: Number.NaN, loanPurpose: 0 };
    const found = findViolations(PredictBatchRequestSchema, create(PredictBatchRequestSchema, { inputs, modelVersion: "x".repeat(33) }));
    expect(found.map((v) => `${v.field} ${v.rule}`)).toEqual([
      "inputs[1].age GTE",
      "inputs[3].income FINITE",
      "inputs[3].loan_purpose DEFINED_NOT_UNSPECIFIED",
      "model_version MAX_LEN",
    ]);
    expect(found[0].description).toBe("must be at least 18 (got 17)");
    expect(found[3].description).toBe("must be at most 32 character(s) (got 33)");
  });

  it("counts batch items against the contract's 1..100, or a configured maximum", () => {
    const batch = (n: number) => create(PredictBatchRequestSchema, { inputs: applications(n) });
    const rules = (n: number, o = new Map()) => findViolations(PredictBatchRequestSchema, batch(n), o).map((v) => v.rule);
    expect(rules(0)).toEqual(["MIN_ITEMS"]);
    expect(findViolations(PredictBatchRequestSchema, batch(0))[0].description).toBe("must have at least 1 item(s) (got 0)");
    expect(rules(1)).toEqual([]);
    expect(rules(100)).toEqual([]);
    expect(rules(101)).toEqual(["MAX_ITEMS"]);
    const five = new Map([["prediction.v1.PredictBatchRequest.inputs", { maxItems: 5 }]]);
    expect(rules(5, five)).toEqual([]);
    expect(rules(6, five)).toEqual(["MAX_ITEMS"]);
  });
});

// Values at, just inside and just past every bound, and the odd ones.
const EDGES: Record<string, unknown[]> = {
  age: [17, 18, 120, 121, 0, -1],
  income: [0, 0.99, 1, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e9, 1e9 + 1, 1e39],
  creditScore: [299, 300, 850, 851],
  employmentYears: [-0.01, 0, 4, 4.1, 21, 21.5, 40, 80, 80.5, Number.NEGATIVE_INFINITY, Number.NaN],
  loanAmount: [0, 0.01, 25000, 1e9, 1e9 + 1, Number.NaN],
  loanPurpose: [0, 1, 4, 5, -1],
  modelVersion: ["", "1", "x".repeat(32), "x".repeat(33)],
};

function edgyApplication(r: () => number): Application {
  const app: Record<string, unknown> = { ...VALID };
  for (const [field, values] of Object.entries(EDGES)) if (r() < 0.3) app[field] = values[Math.floor(r() * values.length)];
  return app as unknown as Application;
}

describe("the compiled rule check", () => {
  // findViolations() checks first with rules compiled per message type and
  // walks the message only when that check fails; the walk is the reference.
  it("finds a message valid exactly when the walk finds no violation", () => {
    const r = rng(20261129);
    let valid = 0;
    for (let i = 0; i < 2000; i++) {
      const row = create(PredictRequestSchema, edgyApplication(r));
      const rows = Array.from({ length: r() < 0.1 ? Math.floor(r() * 3) * 50 + 1 : Math.floor(r() * 4) }, () => edgyApplication(r));
      const batch = create(PredictBatchRequestSchema, { inputs: rows, modelVersion: r() < 0.1 ? "x".repeat(33) : "" });
      const image = create(ClassifyImageRequestSchema, { topK: Math.floor(r() * 140) - 5, contentType: r() < 0.1 ? "x".repeat(300) : "image/png" });
      for (const [schema, message] of [
        [PredictRequestSchema, row],
        [PredictBatchRequestSchema, batch],
        [ClassifyImageRequestSchema, image],
      ] as const) {
        const walked = allViolations(schema, message);
        expect(keepsRules(schema, message), `${schema.typeName} #${i}`).toBe(walked.length === 0);
        expect(findViolations(schema, message)).toEqual(walked);
        if (walked.length === 0) valid++;
      }
    }
    // Both outcomes were exercised, not just one.
    expect(valid).toBeGreaterThan(1000);
    expect(valid).toBeLessThan(5000);
  });

  it("applies configured overrides, as the walk does", () => {
    const five = new Map([["prediction.v1.PredictBatchRequest.inputs", { maxItems: 5 }]]);
    const batch = (n: number) => create(PredictBatchRequestSchema, { inputs: applications(n) });
    expect(keepsRules(PredictBatchRequestSchema, batch(5), five)).toBe(true);
    expect(keepsRules(PredictBatchRequestSchema, batch(6), five)).toBe(false);
    expect(findViolations(PredictBatchRequestSchema, batch(6), five).map((v) => v.rule)).toEqual(["MAX_ITEMS"]);
    expect(keepsRules(PredictBatchRequestSchema, batch(6))).toBe(true); // the contract's own 100, compiled apart
  });
});

describe("field rules, through the server", () => {
  let server: TestServer;
  let client: ProtocolClient;
  const headers = { "x-api-key": API_KEY };
  beforeAll(async () => {
    server = await startTestServer();
    // Connect binary carries NaN and Infinity as they are (JSON would spell them as strings).
    client = PROTOCOL_CLIENTS.find((f) => f.name.startsWith("Connect binary"))!.make(server.baseUrl);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  it.each(CASES)("%s", async (_name, change, violation) => {
    const r = await client.predict({ ...VALID, ...change }, { headers });
    if (!violation) {
      expect(r.ok).toBe(true);
      return;
    }
    if (r.ok) throw new Error("expected INVALID_ARGUMENT");
    expect(r.code).toBe(Code.InvalidArgument);
    expect(r.badRequest?.fieldViolations.map((v) => [v.field, v.reason])).toEqual([violation]);
    expect(r.message).toContain(violation[0]);
  });

  it("takes 1 and 100 inputs, refuses 0 and 101", async () => {
    for (const [n, ok] of [
      [1, true],
      [100, true],
      [0, false],
      [101, false],
    ] as const) {
      const r = await client.predictBatch({ inputs: applications(n) }, { headers });
      expect(r.ok, `batch of ${n}`).toBe(ok);
      if (!r.ok) {
        expect(r.code).toBe(Code.InvalidArgument);
        expect(r.badRequest?.fieldViolations[0].field).toBe("inputs");
      }
    }
  });
});

describe("a configured batch maximum", () => {
  it("is enforced and named in the error", async () => {
    const server = await startTestServer({ MAX_BATCH_INPUTS: "5" });
    const client = PROTOCOL_CLIENTS[0].make(server.baseUrl);
    try {
      const headers = { "x-api-key": API_KEY };
      expect((await client.predictBatch({ inputs: applications(5) }, { headers })).ok).toBe(true);
      const r = await client.predictBatch({ inputs: applications(6) }, { headers });
      if (r.ok) throw new Error("expected INVALID_ARGUMENT");
      expect(r.message).toContain("inputs must have at most 5 item(s) (got 6)");
      expect(r.badRequest?.fieldViolations[0].reason).toBe("MAX_ITEMS");
    } finally {
      client.close();
      await server.close();
    }
  });
});
