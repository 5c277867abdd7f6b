// Checks the committed loan-approval ONNX artifact against the interface the
// server relies on, and against common sense for clearly strong/weak applicants.
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MODEL_PATH = fileURLToPath(new URL("../models/loan-approval/1/model.onnx", import.meta.url));

const FACTOR = {
  debt_to_income: 0,
  income: 1,
  credit_score: 2,
  employment_years: 3,
  age: 4,
  loan_purpose: 5,
} as const;
const FACTOR_COUNT = Object.keys(FACTOR).length;

type Purpose = "home" | "car" | "education" | "personal";

interface Application {
  age: number;
  income: number;
  creditScore: number;
  employmentYears: number;
  loanAmount: number;
  purpose: Purpose;
}

/** One row of the `features` input, in the documented column order. */
function toRow(a: Application): number[] {
  const oneHot = (["home", "car", "education", "personal"] as const).map((p) => (p === a.purpose ? 1 : 0));
  return [a.age, a.income, a.creditScore, a.employmentYears, a.loanAmount, ...oneHot];
}

const STRONG: Application = {
  age: 40,
  income: 120_000,
  creditScore: 800,
  employmentYears: 10,
  loanAmount: 20_000,
  purpose: "home",
};
const WEAK: Application = {
  age: 22,
  income: 20_000,
  creditScore: 420,
  employmentYears: 0,
  loanAmount: 60_000,
  purpose: "personal",
};

let session: ort.InferenceSession;

interface Outputs {
  probabilities: Float32Array;
  contributions: Float32Array;
}

async function run(rows: number[][]): Promise<Outputs> {
  const features = new ort.Tensor("float32", Float32Array.from(rows.flat()), [rows.length, 9]);
  const out = await session.run({ features });
  expect(out.approval_probability.dims).toEqual([rows.length, 1]);
  expect(out.contributions.dims).toEqual([rows.length, FACTOR_COUNT]);
  return {
    probabilities: out.approval_probability.data as Float32Array,
    contributions: out.contributions.data as Float32Array,
  };
}

const logit = (p: number) => Math.log(p / (1 - p));

/** Deterministic, varied applications spanning the realistic input ranges. */
function sampleRows(count: number): number[][] {
  const purposes: Purpose[] = ["home", "car", "education", "personal"];
  return Array.from({ length: count }, (_, i) =>
    toRow({
      age: 18 + ((i * 7) % 60),
      income: 15_000 + ((i * 7_919) % 180_000),
      creditScore: 300 + ((i * 37) % 551),
      employmentYears: ((i * 13) % 250) / 10,
      loanAmount: 1_000 + ((i * 15_485) % 300_000),
      purpose: purposes[i % 4],
    }),
  );
}

beforeAll(async () => {
  session = await ort.InferenceSession.create(MODEL_PATH);
});

afterAll(async () => {
  await session?.release();
});

describe("loan-approval ONNX model", () => {
  it("exposes the documented input and outputs", () => {
    expect(session.inputNames).toEqual(["features"]);
    expect(session.outputNames).toEqual(["approval_probability", "contributions"]);
    const shapes = (metadata: readonly ort.InferenceSession.ValueMetadata[]) =>
      metadata.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name }));
    expect(shapes(session.inputMetadata)).toEqual([{ name: "features", type: "float32", shape: ["batch", 9] }]);
    expect(shapes(session.outputMetadata)).toEqual([
      { name: "approval_probability", type: "float32", shape: ["batch", 1] },
      { name: "contributions", type: "float32", shape: ["batch", FACTOR_COUNT] },
    ]);
  });

  it("approves a clearly strong applicant, with factors pointing toward approval", async () => {
    const { probabilities, contributions } = await run([toRow(STRONG)]);
    expect(probabilities[0]).toBeGreaterThan(0.8);
    for (const factor of ["debt_to_income", "income", "credit_score", "employment_years", "loan_purpose"] as const) {
      expect(contributions[FACTOR[factor]], factor).toBeGreaterThan(0);
    }
  });

  it("denies a clearly weak applicant, with factors pointing toward denial", async () => {
    const { probabilities, contributions } = await run([toRow(WEAK)]);
    expect(probabilities[0]).toBeLessThan(0.2);
    for (const factor of ["debt_to_income", "income", "credit_score", "employment_years", "loan_purpose"] as const) {
      expect(contributions[FACTOR[factor]], factor).toBeLessThan(0);
    }
    // Age is never a reason for a denial: it contributes nothing below 62.
    expect(contributions[FACTOR.age]).toBe(0);
  });

  it("uses age only in favour of applicants of 62 and over: 0 below, one non-negative step from 62", async () => {
    const ages = Array.from({ length: 120 - 18 + 1 }, (_, i) => 18 + i);
    const { probabilities, contributions } = await run(ages.map((age) => toRow({ ...STRONG, age, employmentYears: 0 })));
    const ageTerm = ages.map((_, i) => contributions[i * FACTOR_COUNT + FACTOR.age]);
    expect(new Set(ageTerm.slice(0, 62 - 18))).toEqual(new Set([0]));
    expect(new Set(ageTerm.slice(62 - 18)).size).toBe(1);
    expect(ageTerm[62 - 18]).toBeGreaterThan(0);
    for (let i = 1; i < ages.length; i++) expect(probabilities[i], `age ${ages[i]}`).toBeGreaterThanOrEqual(probabilities[i - 1]);
  });

  it("explains the logit: logit - sum(contributions) is the same bias for every row", async () => {
    const rows = sampleRows(64).filter((_, i) => i % 4 === 0);
    const { probabilities, contributions } = await run(rows);
    const biases = rows.map((_, i) => {
      const sum = contributions.subarray(i * FACTOR_COUNT, (i + 1) * FACTOR_COUNT).reduce((a, b) => a + b, 0);
      return logit(probabilities[i]) - sum;
    });
    // Probabilities near 0 or 1 lose float32 precision in the logit; keep to the informative middle.
    const informative = biases.filter((_, i) => probabilities[i] > 0.01 && probabilities[i] < 0.99);
    expect(informative.length).toBeGreaterThan(3);
    for (const b of informative) expect(b).toBeCloseTo(informative[0], 3);
  });

  it("gives the same outputs for a batch of 64 as for the rows one at a time", async () => {
    const rows = sampleRows(64);
    const batch = await run(rows);
    for (let i = 0; i < rows.length; i++) {
      const single = await run([rows[i]]);
      expect(Math.abs(batch.probabilities[i] - single.probabilities[0])).toBeLessThanOrEqual(1e-6);
      for (let k = 0; k < FACTOR_COUNT; k++) {
        const diff = Math.abs(batch.contributions[i * FACTOR_COUNT + k] - single.contributions[k]);
        expect(diff).toBeLessThanOrEqual(1e-6);
      }
    }
  });
});
