// Shows each field's accepted range under its input ([data-hint-for], named
// by the field's proto name), linked for screen readers. The hint states the
// unit, so the label's own unit hides while a hint shows; without metadata
// the hints hide and the labels keep their units, as before.
import type { InputField } from "../../gen/prediction/v1/prediction_service_pb.js";
import { rangeHint } from "./field-ranges.js";

export function showRangeHints(form: HTMLElement, fields: readonly InputField[]): void {
  for (const hint of form.querySelectorAll<HTMLElement>("[data-hint-for]")) {
    const name = hint.dataset.hintFor!;
    const field = fields.find((f) => f.name === name);
    const text = field ? rangeHint(field) : "";
    hint.textContent = text;
    hint.hidden = text === "";
    const input = form.querySelector<HTMLElement>(`[name="${name}"]`);
    if (!input) continue;
    const unit = form.querySelector<HTMLElement>(`label[for="${input.id}"] .unit`);
    if (unit) unit.hidden = text !== "";
    // Only a shown hint is named, so screen readers never read a stale one.
    const described = (input.getAttribute("aria-describedby") ?? "").split(/\s+/).filter((id) => id && id !== hint.id);
    if (text) described.unshift(hint.id);
    input.setAttribute("aria-describedby", described.join(" "));
  }
}
