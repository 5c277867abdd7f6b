// Turns loan applications into the model's input tensor, column by column, as
// the model's config names them. One typed array for the whole batch.
import { LoanPurpose, type PredictRequest } from "../../gen/prediction/v1/prediction_service_pb.js";

type Column = (r: PredictRequest) => number;

const COLUMNS: Record<string, Column> = {
  age: (r) => r.age,
  income: (r) => r.income,
  credit_score: (r) => r.creditScore,
  employment_years: (r) => r.employmentYears,
  loan_amount: (r) => r.loanAmount,
  purpose_home: (r) => Number(r.loanPurpose === LoanPurpose.HOME),
  purpose_car: (r) => Number(r.loanPurpose === LoanPurpose.CAR),
  purpose_education: (r) => Number(r.loanPurpose === LoanPurpose.EDUCATION),
  purpose_personal: (r) => Number(r.loanPurpose === LoanPurpose.PERSONAL),
};

/** Compiles a config's column list into one encoder; unknown columns fail at load, not per request. */
export function featureEncoder(columns: readonly string[]): (rows: readonly PredictRequest[]) => Float32Array {
  const fns = columns.map((c) => {
    const fn = COLUMNS[c];
    if (!fn) throw new Error(`unknown feature column "${c}" (known: ${Object.keys(COLUMNS).join(", ")})`);
    return fn;
  });
  const width = fns.length;
  return (rows) => {
    const out = new Float32Array(rows.length * width);
    for (let i = 0; i < rows.length; i++) {
      for (let j = 0; j < width; j++) out[i * width + j] = fns[j](rows[i]);
    }
    return out;
  };
}
