// Monotone where a lender expects it, checked through the real server: for
// random applicants across the contract's whole range, approval never falls
// as credit_score, income, employment_years or age rise, and never rises as
// loan_amount rises, beyond float32 rounding. Age is never a denial reason.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decision, LoanPurpose, type PredictResponse } from "../gen/prediction/v1/prediction_service_pb.js";
import type { Application } from "./support/applications.js";
import { PROTOCOL_CLIENTS, type ProtocolClient } from "./support/protocol-clients.js";
import { rng } from "./support/random-messages.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const APPLICANTS = 1_000;
/** Points per applicant along the swept field: its two bounds and random values between. */
const POINTS = 8;
/** float32 rounding in the graph (a probability near 0.5 has steps of 6e-8; sums and logs add a few). */
const ROUNDING = 1e-6;
const BATCH = 100;
const CONCURRENCY = 4;

type Field = "creditScore" | "income" | "employmentYears" | "loanAmount" | "age";
type Rand = () => number;

const uniform = (r: Rand, lo: number, hi: number) => lo + (hi - lo) * r();
const logUniform = (r: Rand, lo: number, hi: number) => Math.exp(uniform(r, Math.log(lo), Math.log(hi)));
/** Mostly realistic amounts, sometimes anywhere in the contract's 1..1e9. */
const dollars = (r: Rand, typical: [number, number]) => Math.round(r() < 0.3 ? logUniform(r, 1, 1e9) : logUniform(r, ...typical));

function randomApplicant(r: Rand): Application {
  const age = 18 + Math.floor(r() * 103);
  return {
    age,
    income: dollars(r, [8_000, 500_000]),
    creditScore: 300 + Math.floor(r() * 551),
    employmentYears: Math.round(uniform(r, 0, Math.min(80, age - 14)) * 10) / 10,
    loanAmount: dollars(r, [500, 1_000_000]),
    loanPurpose: [LoanPurpose.HOME, LoanPurpose.CAR, LoanPurpose.EDUCATION, LoanPurpose.PERSONAL][Math.floor(r() * 4)],
  };
}

/** The field's allowed range for this applicant (the contract's bounds, and employment_years <= age - 14). */
function range(field: Field, a: Application): [number, number] {
  switch (field) {
    case "creditScore":
      return [300, 850];
    case "income":
      return [1, 1e9];
    case "loanAmount":
      return [1, 1e9];
    case "employmentYears":
      return [0, Math.min(80, a.age - 14)];
    case "age":
      return [Math.max(18, Math.ceil(a.employmentYears + 14)), 120];
  }
}

/** POINTS values of the field in increasing order, both bounds included. */
function sweep(field: Field, a: Application, r: Rand): Application[] {
  const [lo, hi] = range(field, a);
  const draw = () => {
    if (field === "income" || field === "loanAmount") return logUniform(r, lo, hi);
    const v = uniform(r, lo, hi);
    return field === "employmentYears" ? Math.min(hi, Math.round(v * 10) / 10) : Math.round(v);
  };
  const values = [lo, hi, ...Array.from({ length: POINTS - 2 }, draw)].sort((x, y) => x - y);
  return values.map((v) => ({ ...a, [field]: v }));
}

describe("loan approval is monotone in credit_score, income, employment_years, loan_amount and age", () => {
  let server: TestServer;
  let client: ProtocolClient;
  const headers = { "x-api-key": API_KEY };

  beforeAll(async () => {
    server = await startTestServer();
    client = PROTOCOL_CLIENTS[0].make(server.baseUrl);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  async function predictAll(rows: Application[]): Promise<PredictResponse[]> {
    const batches: Application[][] = [];
    for (let i = 0; i < rows.length; i += BATCH) batches.push(rows.slice(i, i + BATCH));
    const out: PredictResponse[][] = new Array(batches.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < batches.length) {
          const k = next++;
          const res = await client.predictBatch({ inputs: batches[k] }, { headers });
          if (!res.ok) throw new Error(`batch ${k}: ${res.code} ${res.message}`);
          out[k] = res.message.predictions;
        }
      }),
    );
    return out.flat();
  }

  const cases: [Field, 1 | -1, number][] = [
    ["creditScore", 1, 101],
    ["income", 1, 102],
    ["employmentYears", 1, 103],
    ["loanAmount", -1, 104],
    ["age", 1, 105],
  ];

  it.each(cases)(`%s: ${APPLICANTS} random applicants, ${POINTS} points each, no violation beyond ${ROUNDING}`, async (field, direction, seed) => {
    const r = rng(seed);
    const rows = Array.from({ length: APPLICANTS }, () => sweep(field, randomApplicant(r), r)).flat();
    const answers = await predictAll(rows);
    expect(answers.length).toBe(rows.length);
    let violations = 0;
    let worst = 0;
    let rises = 0;
    for (let a = 0; a < APPLICANTS; a++) {
      for (let i = a * POINTS + 1; i < (a + 1) * POINTS; i++) {
        const step = direction * (answers[i].approvalProbability - answers[i - 1].approvalProbability);
        if (step < -ROUNDING) violations++;
        worst = Math.min(worst, step);
        if (step > ROUNDING) rises++;
      }
    }
    for (const p of answers) {
      expect(Number.isFinite(p.approvalProbability)).toBe(true);
      if (p.decision === Decision.DENIED) expect(p.factors.map((f) => f.feature)).not.toContain("age");
    }
    expect({ violations, worst: worst < -ROUNDING ? worst : 0 }).toEqual({ violations: 0, worst: 0 });
    // The sweep moved the answer, so it could have found a violation.
    expect(rises).toBeGreaterThan(APPLICANTS / 10);
  });
});
