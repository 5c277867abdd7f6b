// The loan form: reads the inputs, calls Predict, shows the decision, its
// probability and the reasons behind it, or each field's error next to it;
// under each input, its range as the model's metadata states it (when known).
import { create } from "@bufbuild/protobuf";
import {
  Decision,
  type GetModelMetadataResponse,
  LoanPurposeSchema,
  PredictRequestSchema,
  type PredictResponse,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import type { PredictionClient } from "./api.js";
import { bar, byId, h, setStatus } from "./dom.js";
import { explain, type ShownError } from "./errors.js";
import { showFieldErrors } from "./field-errors.js";
import { showRangeHints } from "./range-hints.js";

export interface LoanFormDeps {
  client(): PredictionClient;
  transportLabel(): string;
  /** False (and the key box says why) when there is no key to send. */
  requireKey(): boolean;
  onError(error: ShownError): void;
}

const NUMBER_FIELDS = [
  ["age", "int"],
  ["income", "float"],
  ["credit_score", "int"],
  ["employment_years", "float"],
  ["loan_amount", "float"],
] as const;

/** Sets the form up and returns what takes the models' metadata (ListModels'), or none when it is not known. */
export function setUpLoanForm(deps: LoanFormDeps): (metadata: readonly GetModelMetadataResponse[]) => void {
  const form = byId<HTMLFormElement>("loan-form");
  const status = byId("loan-status");
  const result = byId("loan-result");
  const submit = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
  fillPurposes(byId<HTMLSelectElement>("loan_purpose"));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { request, parseErrors } = readForm(form);
    showFieldErrors(form, parseErrors);
    if (parseErrors.size > 0) return setStatus(status, "error", "Please correct the marked fields.");
    if (!deps.requireKey()) return setStatus(status, "error", "Enter your API key above first.");
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    setStatus(status, "busy", "Deciding…");
    try {
      const response = await deps.client().predict(request);
      setStatus(status, "ok", "");
      result.replaceChildren(renderDecision(response, deps.transportLabel()));
      result.hidden = false;
    } catch (reason) {
      const shown = explain(reason);
      const elsewhere = showFieldErrors(form, shown.fields);
      setStatus(status, "error", [shown.message, ...elsewhere].join(" "));
      result.hidden = true;
      deps.onError(shown);
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  return (metadata) => {
    showRangeHints(form, metadata.find((m) => m.requestMessage === PredictRequestSchema.typeName)?.inputFields ?? []);
  };
}

function fillPurposes(select: HTMLSelectElement): void {
  for (const value of LoanPurposeSchema.values) {
    const text = value.number === 0 ? "Choose a purpose…" : titleCase(value.name.replace("LOAN_PURPOSE_", ""));
    select.append(h("option", { value: String(value.number) }, text));
  }
}

/** The request from the inputs. Only what is not a number at all is caught here; the server checks every rule. */
function readForm(form: HTMLFormElement) {
  const data = new FormData(form);
  const parseErrors = new Map<string, string>();
  const values: Record<string, number> = {};
  for (const [name, kind] of NUMBER_FIELDS) {
    const raw = String(data.get(name) ?? "").trim();
    const n = raw === "" ? 0 : Number(raw);
    if (!Number.isFinite(n) || (kind === "int" && !Number.isInteger(n))) parseErrors.set(name, kind === "int" ? "Enter a whole number." : "Enter a number.");
    values[name] = n;
  }
  const request = create(PredictRequestSchema, {
    age: values.age,
    income: values.income,
    creditScore: values.credit_score,
    employmentYears: values.employment_years,
    loanAmount: values.loan_amount,
    loanPurpose: Number(data.get("loan_purpose") ?? 0),
  });
  return { request, parseErrors };
}

function renderDecision(r: PredictResponse, via: string): HTMLElement {
  const approved = r.decision === Decision.APPROVED;
  const maxContribution = Math.max(1, ...r.factors.map((f) => Math.abs(f.contribution)));
  return h(
    "div",
    { class: "decision" },
    h(
      "div",
      { class: "decision-head" },
      h("span", { class: `badge ${approved ? "badge-ok" : "badge-no"}`, "data-testid": "decision" }, approved ? "Approved" : "Denied"),
      h("span", { class: "decision-prob" }, h("strong", {}, pct(r.approvalProbability)), " approval probability"),
    ),
    bar(r.approvalProbability, approved ? "ok" : "no"),
    h("p", { class: "meta" }, `${r.modelName} v${r.modelVersion} · ${pct(r.probability)} confident · via ${via}`),
    r.factors.length > 0 && h("h3", {}, "Reasons"),
    r.factors.length > 0 &&
      h(
        "ul",
        { class: "factors" },
        ...r.factors.map((f) =>
          h(
            "li",
            {},
            h("span", { class: "factor-name" }, titleCase(f.feature.replace(/_/g, " "))),
            h("span", { class: "factor-text" }, f.description),
            h(
              "span",
              { class: "factor-weight", title: `contribution to the approval log-odds: ${f.contribution.toFixed(2)}` },
              bar(Math.abs(f.contribution) / maxContribution, f.contribution >= 0 ? "ok" : "no"),
              f.contribution >= 0 ? "toward approval" : "toward denial",
            ),
          ),
        ),
      ),
  );
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const titleCase = (s: string) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
