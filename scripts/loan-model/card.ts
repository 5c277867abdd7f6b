// The loan model's card (Hugging Face model card layout: YAML metadata, then
// use, data, training, evaluation, bias and legal notes), generated from the
// same numbers as metrics.json so the two never disagree.
import { DISTRIBUTIONS, INPUT_COLUMNS, MEDIAN_INCOME, PURPOSES, TRUE_RULE } from "./data-rule.js";
import { CALIBRATION_BINS, type GroupMetrics, type Metrics } from "./evaluate.js";
import type { FitOptions, FittedModel } from "./fit.js";
import { CONTRIBUTION_COLUMNS, IR_VERSION, OPSET } from "./onnx-graph.js";

export interface CardInput {
  name: string;
  version: string;
  date: string;
  seeds: { train: number; evaluation: number };
  model: FittedModel;
  withAge: { model: FittedModel; test: Metrics; groups: GroupMetrics };
  fit: FitOptions;
  train: Metrics;
  test: Metrics;
  ceiling: Metrics;
  groups: GroupMetrics;
  environment: Record<string, string | number>;
  sha256: string;
}

// Rounded as metrics.json rounds, so the card and the file show the same digits.
const f4 = (x: number) => (Math.round(x * 1e4) / 1e4).toFixed(4);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const term = (c: number, expression: string) => `${c < 0 ? "−" : "+"} ${Math.abs(c)} · ${expression}`;

function groupTable(title: string, groups: Record<string, Metrics>): string {
  const rows = Object.entries(groups).map(
    ([name, m]) =>
      `| ${name} | ${m.count} | ${pct(m.approval_rate)} | ${pct(m.predicted_approval_rate)} | ${f4(m.mean_probability)} | ${f4(m.accuracy)} | ${f4(m.roc_auc)} | ${f4(m.calibration_error)} |`,
  );
  return [
    `| ${title} | Applicants | Approved (label) | Approved (model) | Mean probability | Accuracy | ROC AUC | Calibration error |`,
    "|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

function heldAtZero(model: FittedModel): string {
  const held = model.features.filter((f, j) => f.sign !== 0 && model.weights[j] === 0).map((f) => f.name);
  return held.length === 0 ? "none" : held.join(", ");
}

export function modelCard(c: CardInput): string {
  const r = TRUE_RULE;
  const { model, test, train, ceiling, groups, withAge } = c;
  const parameterRows = model.features
    .map(
      (f, j) =>
        `| ${f.name} | ${f.sign > 0 ? "≥ 0 (approval rises)" : f.sign < 0 ? "≤ 0 (approval falls)" : "free"} | ${f4(model.standardizer.mean[j])} | ${f4(model.standardizer.std[j])} | ${f4(model.weights[j])} |`,
    )
    .join("\n");
  const env = Object.entries(c.environment)
    .map(([k, v]) => `| ${k} | ${v} |`)
    .join("\n");
  return `---
license: other
license_name: none-granted
language: en
library_name: onnx
pipeline_tag: tabular-classification
tags:
- tabular-classification
- logistic-regression
- monotonic
- credit-scoring
- synthetic-data
metrics:
- accuracy
- roc_auc
model-index:
- name: ${c.name}
  results:
  - task:
      type: tabular-classification
      name: Loan approval
    dataset:
      type: synthetic
      name: Synthetic loan applications (seed ${c.seeds.evaluation})
      split: test
    metrics:
    - type: accuracy
      value: ${f4(test.accuracy)}
      name: Accuracy (threshold 0.5)
    - type: roc_auc
      value: ${f4(test.roc_auc)}
      name: ROC AUC
    - type: expected_calibration_error
      value: ${f4(test.calibration_error)}
      name: Calibration error (${CALIBRATION_BINS} bins)
---

# Model card: ${c.name} v${c.version}

| | |
|---|---|
| Version | ${c.version} (directory \`models/${c.name}/${c.version}\`), ${c.date} |
| Type | Logistic regression with sign-constrained weights on monotone features |
| Artifact | \`model.onnx\` (ONNX IR ${IR_VERSION}, opset ${OPSET}), sha256 \`${c.sha256}\` |
| Made by | \`scripts/train-loan-model.ts\` (\`npm run train:loan\`); this card and \`metrics.json\` are generated, do not edit |
| License | none granted (the repository has no license) |

The model estimates the probability that a loan application is approved and
explains each decision as contributions to the log-odds.

## Intended use

- Demonstrating and testing the prediction server: serving, batching, the
  contract's validation, and the reasons given with a decision.
- Exercises in how a credit model is built and audited (monotonicity,
  per-group evaluation, Regulation B's rules on age).

## Out-of-scope use

- **Any real lending decision.** The model has only seen synthetic
  applicants; its probabilities say nothing about real people.
- Scoring applications outside the contract's ranges (the server refuses
  them) or with information the model does not have (credit history,
  existing debt, collateral, loan term).
- Estimating repayment or default: the label is a synthetic approval
  decision, not a repayment outcome.

## Training data

${train.count} synthetic applications for training (mulberry32 PRNG, seed
**${c.seeds.train}**) and ${test.count} fresh ones for evaluation (seed
**${c.seeds.evaluation}**), drawn from the same rule; ${pct(train.approval_rate)} of the
training applications are approved. Ages cover the contract's whole range,
18..120.

| Field | Distribution |
|---|---|
${DISTRIBUTIONS.map(([field, d]) => `| ${field} | ${d} |`).join("\n")}

True approval log-odds:

\`\`\`
z = ${r.intercept}
    ${term(r.debtToIncome, "loan_amount / income")}
    ${term(r.logIncomeRatio, `ln(income / ${MEDIAN_INCOME})`)}
    ${term(r.creditPerPoint, `(credit_score − ${r.creditCenter})`)}
    ${term(r.log1pEmployment, "ln(1 + employment_years)")}
    ${term(r.agePerYearUntil60, "(min(age, 60) − 40)")}
    + purpose offset (${PURPOSES.map((p) => `${p} ${r.purpose[p] > 0 ? "+" : ""}${r.purpose[p]}`).join(", ")})
approved = z + Logistic(0, 1) noise > 0        (so P(approved) = sigmoid(z))
\`\`\`

In this rule younger applicants are riskier and from 60 on age changes
nothing: no applicant is scored lower for being older (see *Bias, risks and
legal*).

## Model

Input \`features\`: float32 [N, ${INPUT_COLUMNS.length}], columns ${INPUT_COLUMNS.map((x) => `\`${x}\``).join(", ")}
(the purpose columns are one-hot). Age enters only as \`age_62_or_older\` (1 from
62 on, else 0), left unstandardized so that its term is exactly 0 below 62.

The graph computes these features, standardizes them with the training mean
and standard deviation, and weighs them:

| Feature | Weight allowed | Training mean | Training std | Weight |
|---|---|---|---|---|
${parameterRows}

Bias: ${f4(model.bias)}.

**Monotone by construction.** Each feature is a non-decreasing function of
its inputs (debt_to_income of loan_amount, and non-increasing in income), and
the fit keeps each weight's sign, so with everything else fixed approval
never falls as credit_score, income or employment_years rise and never rises
as loan_amount rises: the income and debt-to-income terms move the same way
when income rises. Age changes the output only at 62, and only upward: no
one is scored lower for being older, and every age below 62 is scored the
same. Float32 arithmetic can break ties by a rounding step (below 1e-6).

Outputs:

- \`approval_probability\`: float32 [N, 1] = sigmoid(bias + sum of contributions).
- \`contributions\`: float32 [N, ${CONTRIBUTION_COLUMNS.length}], columns ${CONTRIBUTION_COLUMNS.map((x) => `\`${x}\``).join(", ")}:
  weight × standardized feature, the push on the log-odds relative to the
  average training applicant; the four purpose terms are summed into
  \`loan_purpose\`. The \`age\` column is weight × age_62_or_older, the one term
  not relative to the average: 0 below 62 and never negative, so age is never
  a reason for a denial (at 62 and over it can be one for an approval).

## Training

Mean log-loss + (λ/2)·‖w‖², λ = ${c.fit.l2}, bias not penalized, minimized by
projected Newton steps: a weight that would take the wrong sign is held at 0
(held at 0 in this fit: ${heldAtZero(model)}). Converged in ${model.iterations}
iterations (step < ${c.fit.tolerance}); the optimality (KKT) conditions are checked.
Fully deterministic: the same code in the environment below writes a
byte-identical model, metrics.json and card.

Environment of this run:

| | |
|---|---|
${env}

## Evaluation

On the ${test.count} fresh evaluation applications (threshold 0.5; calibration
error is the mean |probability − approval rate| over ${CALIBRATION_BINS} equal-width
probability bins, weighted by size). The noise ceiling is the true rule's own
probability: the best any model can do, since labels are noisy.

| | Accuracy | ROC AUC | Calibration error |
|---|---|---|---|
| train (${train.count}) | ${f4(train.accuracy)} | ${f4(train.roc_auc)} | ${f4(train.calibration_error)} |
| evaluation (${test.count}) | ${f4(test.accuracy)} | ${f4(test.roc_auc)} | ${f4(test.calibration_error)} |
| noise ceiling (evaluation) | ${f4(ceiling.accuracy)} | ${f4(ceiling.roc_auc)} | ${f4(ceiling.calibration_error)} |

By age band:

${groupTable("Age", groups.age)}

By loan purpose:

${groupTable("Purpose", groups.loan_purpose)}

The training script re-scores the evaluation set with onnxruntime-node and
checks that the ONNX outputs match the TypeScript model and give these
metrics.

## Bias, risks and legal

- **Age and Regulation B.** The Equal Credit Opportunity Act and Regulation
  B allow age in an empirically derived scoring system only if the age of an
  applicant aged 62 or older is not assigned a negative factor or value (12
  CFR 1002.6(b)(2)(ii)), and allow a creditor to use age in favour of such
  an applicant (1002.6(b)(2)(iv)). The data rule keeps to the first: its age
  effect stops at 60. The model uses age only the second way: one step,
  age_62_or_older, with a weight that cannot be negative
  (${f4(model.weights[model.features.findIndex((f) => f.name === "age_62_or_older")])} here). Applicants of 62 and over get that bonus; everyone
  under 62 is scored the same whatever their age. So approval never falls as
  age rises, and age never pushes toward a denial nor is given as its reason.
  This is an engineering reading of the rules, not legal advice.
- **What that costs young applicants' calibration.** The true rule scores
  the youngest lower. Doing the same (e.g. min(age, 62) with a non-negative
  weight) would make age a true reason for denying young applicants, so the
  model does not: in the 18-24 band it predicts ${f4(groups.age["18-24"].mean_probability)} on average where
  ${pct(groups.age["18-24"].approval_rate)} are approved (calibration error ${f4(groups.age["18-24"].calibration_error)}). Features that correlate
  with age (employment years, credit score) carry part of the difference.
  With min(age, 62) in place of the step the band's calibration error would
  be ${f4(withAge.groups.age["18-24"].calibration_error)} and overall accuracy ${f4(withAge.test.accuracy)}, ROC AUC ${f4(withAge.test.roc_auc)} (this model:
  ${f4(test.accuracy)}, ${f4(test.roc_auc)}). Age stays a validated field of the contract (18..120).
- **Synthetic data.** Every applicant and label comes from the rule above.
  Nothing here has been validated on real applications; real data would
  have other correlations, missing values and shifts over time.
- **No repayment outcome.** The label is an approval decision, not whether a
  loan was repaid; a model of past approvals learns past decisions,
  including their biases.
- **Other protected characteristics** (race, sex, marital status, national
  origin, religion, receipt of public assistance) are not inputs and are not
  in the data, so the model cannot be checked for disparate impact on them.

## Limitations

- Linear in its features: no interactions beyond debt-to-income.
- Incomes and loan amounts far outside the training data (the contract
  allows up to 1e9 dollars) are extrapolated; monotonicity holds there, the
  accuracy of the probabilities is unknown.
- Reasons are relative to the average training applicant, not to a
  reference an applicant could act on.

## History

- ${c.date}: this model replaced an earlier one at the same version number
  and interface. That one used age as a linear, increasing term (its data
  rule penalised applicants over 70, which it missed, and it gave age as a
  reason for about a quarter of denials), was trained on ages up to 95
  only, and was monotone only by chance. See the repository's history.

## Reproducing

\`\`\`
npm ci
npm run train:loan          # writes model.onnx, metrics.json and this card, nothing else
npx vitest run test/loan-retrain.test.ts
\`\`\`

Training writes only this version directory; serving settings
(\`models/${c.name}/config.json\`: columns, factors, batching, session) are set by
hand and never rewritten. \`test/loan-retrain.test.ts\` (part of \`npm test\`)
retrains into a temporary directory and checks that the metrics match
\`metrics.json\` within 1e-4 and that \`config.json\` is untouched.
`;
}
