// A request field's accepted values as GetModelMetadata states them, in
// words for the hint under the input.
import type { InputField } from "../../gen/prediction/v1/prediction_service_pb.js";

/** Grouped digits (1,000,000,000) in every browser locale, so a hint reads the same for everyone. */
const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 20 });

/** e.g. "18–120 years", "> 0 and ≤ 1,000,000,000 USD", "0–80 years, ≤ age − 14"; empty when the field has no rule. */
export function rangeHint(field: InputField): string {
  const { min, max } = field;
  let range = "";
  if (min !== undefined && max !== undefined && !field.minExclusive && !field.maxExclusive) range = `${NUMBER.format(min)}–${NUMBER.format(max)}`;
  else {
    const parts = [];
    if (min !== undefined) parts.push(`${field.minExclusive ? ">" : "≥"} ${NUMBER.format(min)}`);
    if (max !== undefined) parts.push(`${field.maxExclusive ? "<" : "≤"} ${NUMBER.format(max)}`);
    range = parts.join(" and ");
  }
  if (range && field.unit) range += ` ${field.unit}`;
  const cross = crossBound(field);
  const rule = cross
    ? `≤ ${cross.other}${cross.offset === 0 ? "" : ` ${cross.offset < 0 ? "−" : "+"} ${NUMBER.format(Math.abs(cross.offset))}`}`
    : field.crossFieldRule;
  return [range, rule].filter(Boolean).join(", ");
}

/** "employment_years <= age - 14" → { other: "age", offset: -14 }; undefined for a rule in any other shape. */
function crossBound(field: InputField): { other: string; offset: number } | undefined {
  const m = /^(\w+) <= (\w+)(?: ([+-]) (\d+(?:\.\d+)?))?$/.exec(field.crossFieldRule);
  if (!m || m[1] !== field.name) return undefined;
  const size = m[4] === undefined ? 0 : Number(m[4]);
  return { other: m[2]!, offset: m[3] === "-" ? -size : size };
}
