// The synthetic world the loan model learns from: who applies, and the true
// probability that each application is approved. Seeded, so every run draws
// the same applicants. Synthetic, NOT real lending data.
export const PURPOSES = ["HOME", "CAR", "EDUCATION", "PERSONAL"] as const;
export type Purpose = (typeof PURPOSES)[number];

/** The contract's age range; the data covers all of it. */
export const AGE_MIN = 18;
export const AGE_MAX = 120;
/** Share of applicants whose age is uniform over the whole range, so the oldest ages are trained on too. */
export const UNIFORM_AGE_SHARE = 0.1;
export const MEDIAN_INCOME = 52_000;
export const MAX_EMPLOYMENT_YEARS = 80;

/** Constants of the true approval log-odds (see trueLogOdds). */
export const TRUE_RULE = {
  intercept: 0.3,
  debtToIncome: -1.2,
  logIncomeRatio: 0.5,
  creditPerPoint: 0.018,
  creditCenter: 680,
  log1pEmployment: 0.75,
  // Young applicants are riskier; from 60 on age changes nothing (Regulation B: no penalty at 62+).
  agePerYearUntil60: 0.04,
  purpose: { HOME: 3.9, CAR: 0.9, EDUCATION: 0.3, PERSONAL: -0.75 } satisfies Record<Purpose, number>,
};

export const PURPOSE_MIX: Record<Purpose, number> = { HOME: 0.25, CAR: 0.3, EDUCATION: 0.15, PERSONAL: 0.3 };
export const LOAN_MEDIAN: Record<Purpose, number> = { HOME: 150_000, CAR: 25_000, EDUCATION: 30_000, PERSONAL: 12_000 };
export const LOAN_LOG_SD: Record<Purpose, number> = { HOME: 0.5, CAR: 0.4, EDUCATION: 0.6, PERSONAL: 0.7 };

/** Rows of the generating rule as the model card prints them. */
export const DISTRIBUTIONS: [field: string, distribution: string][] = [
  [
    "age",
    `whole years: with probability ${1 - UNIFORM_AGE_SHARE} Normal(43, 14) rounded and clamped to ${AGE_MIN}..${AGE_MAX}, otherwise uniform over ${AGE_MIN}..${AGE_MAX}`,
  ],
  ["income", `USD/yr, log-normal: median ${MEDIAN_INCOME} · exp(0.015 · (min(age, 55) − 40)), log-sd 0.5, whole dollars, at least 1`],
  ["credit_score", `600 + 1.8 · (min(age, 70) − 18) + 20 · ln(income / ${MEDIAN_INCOME}) + Normal(0, 65), rounded, clamped to 300..850`],
  ["employment_years", `Exponential, mean 1 + 0.2 · (age − 18), capped at min(age − 18, ${MAX_EMPLOYMENT_YEARS}), rounded to 0.1`],
  ["loan_purpose", PURPOSES.map((p) => `${p} ${PURPOSE_MIX[p] * 100}%`).join(", ")],
  [
    "loan_amount",
    `USD, log-normal: purpose median · (income / ${MEDIAN_INCOME})^0.6; medians ${PURPOSES.map((p) => `${p} ${LOAN_MEDIAN[p]}`).join(", ")}; log-sd ${PURPOSES.map((p) => `${p} ${LOAN_LOG_SD[p]}`).join(", ")}; whole dollars, at least 500`,
  ],
];

export interface Applicant {
  age: number;
  income: number;
  creditScore: number;
  employmentYears: number;
  loanAmount: number;
  purpose: Purpose;
}

export interface Sample {
  applicant: Applicant;
  /** The 9 columns of the model's `features` input, rounded through float32 as the server sends them. */
  row: number[];
  /** P(approved) under the true rule: what a perfect model would say. */
  trueProbability: number;
  label: 0 | 1;
}

/** Columns of the ONNX `features` input, in order (the server's config lists the same). */
export const INPUT_COLUMNS = [
  "age",
  "income",
  "credit_score",
  "employment_years",
  "loan_amount",
  "purpose_home",
  "purpose_car",
  "purpose_education",
  "purpose_personal",
] as const;
export const COLUMN = Object.fromEntries(INPUT_COLUMNS.map((c, i) => [c, i])) as Record<(typeof INPUT_COLUMNS)[number], number>;

interface Rng {
  /** Uniform in (0, 1): never exactly 0, so logs are safe. */
  uniform(): number;
  normal(): number;
  exponential(mean: number): number;
  logistic(): number;
}

/** mulberry32: tiny and good enough for synthetic data; the point is reproducibility. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  // Shift by half a step so draws lie strictly inside (0, 1).
  const uniform = () => next() + 0.5 / 4294967296;
  return {
    uniform,
    // Box-Muller, using one of the pair: keeps the stream simple.
    normal: () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
    exponential: (mean) => -mean * Math.log(uniform()),
    logistic: () => {
      const u = uniform();
      return Math.log(u / (1 - u));
    },
  };
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

function pickPurpose(rng: Rng): Purpose {
  let u = rng.uniform();
  for (const purpose of PURPOSES) {
    u -= PURPOSE_MIX[purpose];
    if (u <= 0) return purpose;
  }
  return PURPOSES[PURPOSES.length - 1];
}

function drawAge(rng: Rng): number {
  if (rng.uniform() < UNIFORM_AGE_SHARE) return AGE_MIN + Math.floor(rng.uniform() * (AGE_MAX - AGE_MIN + 1));
  return clamp(Math.round(43 + 14 * rng.normal()), AGE_MIN, AGE_MAX);
}

function generateApplicant(rng: Rng): Applicant {
  const age = drawAge(rng);
  const medianIncome = MEDIAN_INCOME * Math.exp(0.015 * (Math.min(age, 55) - 40));
  const income = Math.max(1, Math.round(medianIncome * Math.exp(0.5 * rng.normal())));
  const creditMean = 600 + 1.8 * (Math.min(age, 70) - 18) + 20 * Math.log(income / MEDIAN_INCOME);
  const creditScore = clamp(Math.round(creditMean + 65 * rng.normal()), 300, 850);
  const tenure = Math.min(age - 18, MAX_EMPLOYMENT_YEARS, rng.exponential(1 + 0.2 * (age - 18)));
  const employmentYears = Math.round(tenure * 10) / 10;
  const purpose = pickPurpose(rng);
  // Richer applicants borrow more, but less than proportionally: DTI falls with income.
  const loanMedian = LOAN_MEDIAN[purpose] * (income / MEDIAN_INCOME) ** 0.6;
  const loanAmount = Math.max(500, Math.round(loanMedian * Math.exp(LOAN_LOG_SD[purpose] * rng.normal())));
  return { age, income, creditScore, employmentYears, loanAmount, purpose };
}

export function trueLogOdds(a: Applicant): number {
  const r = TRUE_RULE;
  return (
    r.intercept +
    r.debtToIncome * (a.loanAmount / a.income) +
    r.logIncomeRatio * Math.log(a.income / MEDIAN_INCOME) +
    r.creditPerPoint * (a.creditScore - r.creditCenter) +
    r.log1pEmployment * Math.log1p(a.employmentYears) +
    r.agePerYearUntil60 * (Math.min(a.age, 60) - 40) +
    r.purpose[a.purpose]
  );
}

function toRow(a: Applicant): number[] {
  const oneHot = PURPOSES.map((p) => (p === a.purpose ? 1 : 0));
  // Through float32 so the TypeScript model sees exactly what ONNX sees.
  return [a.age, a.income, a.creditScore, a.employmentYears, a.loanAmount, ...oneHot].map(Math.fround);
}

export function generateSamples(seed: number, count: number): Sample[] {
  const rng = createRng(seed);
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const applicant = generateApplicant(rng);
    const z = trueLogOdds(applicant);
    const approved = z + rng.logistic() > 0;
    samples.push({ applicant, row: toRow(applicant), trueProbability: 1 / (1 + Math.exp(-z)), label: approved ? 1 : 0 });
  }
  return samples;
}
