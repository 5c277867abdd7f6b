// Loan applications for tests: a valid baseline and clearly strong/weak cases.
import { LoanPurpose } from "../../gen/prediction/v1/prediction_service_pb.js";

/** The fields of a PredictRequest, as a plain object any client accepts. */
export interface Application {
  age: number;
  income: number;
  creditScore: number;
  employmentYears: number;
  loanAmount: number;
  loanPurpose: LoanPurpose;
}

export const VALID: Application = {
  age: 35,
  income: 55_000,
  creditScore: 720,
  employmentYears: 8.5,
  loanAmount: 25_000,
  loanPurpose: LoanPurpose.HOME,
};

export const STRONG: Application = { age: 40, income: 120_000, creditScore: 800, employmentYears: 10, loanAmount: 20_000, loanPurpose: LoanPurpose.HOME };
export const WEAK: Application = { age: 22, income: 20_000, creditScore: 420, employmentYears: 0, loanAmount: 60_000, loanPurpose: LoanPurpose.PERSONAL };

/** n varied, valid applications (deterministic). */
export function applications(n: number): Application[] {
  const purposes = [LoanPurpose.HOME, LoanPurpose.CAR, LoanPurpose.EDUCATION, LoanPurpose.PERSONAL];
  return Array.from({ length: n }, (_, i) => ({
    age: 18 + ((i * 7) % 80),
    income: 15_000 + ((i * 7919) % 200_000),
    creditScore: 300 + ((i * 37) % 551),
    // At most age - 14, as the contract requires.
    employmentYears: Math.min((i % 30) / 2, 4 + ((i * 7) % 80)),
    loanAmount: 1_000 + ((i * 4243) % 150_000),
    loanPurpose: purposes[i % 4],
  }));
}
