// Checks a message against the (prediction.v1.rules) options declared in the
// contract. Pure functions of (schema, message): the validation interceptor
// calls them, and so can any test, without a server.
import { getOption, hasOption, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { reflect, type ReflectList, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { rules as rulesExtension, type FieldRules } from "../../gen/prediction/v1/field_rules_pb.js";

export interface FieldViolation {
  /** Path to the field from the request root, e.g. "inputs[3].age". */
  field: string;
  /** Machine-readable rule name, e.g. "GTE". */
  rule: string;
  /** What the rule requires, and the value that broke it. */
  description: string;
}

/** Replaces contract rules at run time, keyed by the field's full name (e.g. a configured max_items). */
export type RuleOverrides = ReadonlyMap<string, Partial<Pick<FieldRules, "minItems" | "maxItems">>>;

interface FieldPlan {
  field: DescField;
  rules?: FieldRules;
  /** Set when the field holds messages whose own fields may carry rules. */
  nested?: DescMessage;
}

// The plan per (overrides, message type) is computed once: reading options
// on every call would be wasted work on the hot path.
const plans = new WeakMap<RuleOverrides, WeakMap<DescMessage, FieldPlan[]>>();

function planFor(schema: DescMessage, overrides: RuleOverrides): FieldPlan[] {
  let bySchema = plans.get(overrides);
  if (!bySchema) plans.set(overrides, (bySchema = new WeakMap()));
  let plan = bySchema.get(schema);
  if (!plan) bySchema.set(schema, (plan = buildPlan(schema, overrides)));
  return plan;
}

function buildPlan(schema: DescMessage, overrides: RuleOverrides): FieldPlan[] {
  const plan: FieldPlan[] = [];
  for (const field of schema.fields) {
    let rules = hasOption(field, rulesExtension) ? getOption(field, rulesExtension) : undefined;
    const override = overrides.get(field.parent.typeName + "." + field.name);
    if (override) rules = { ...(rules ?? ({} as FieldRules)), ...override };
    const nested =
      field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")
        ? field.message
        : undefined;
    if (rules || (nested && !isWellKnown(nested))) plan.push({ field, rules, nested });
  }
  return plan;
}

const isWellKnown = (m: DescMessage) => m.typeName.startsWith("google.protobuf.");

/** Every violation in the message, in field order; empty when it is valid. */
const NO_OVERRIDES: RuleOverrides = new Map();

export function findViolations(
  schema: DescMessage,
  message: Message,
  overrides: RuleOverrides = NO_OVERRIDES,
): FieldViolation[] {
  const out: FieldViolation[] = [];
  visit(reflect(schema, message as never), "", overrides, out);
  return out;
}

function visit(msg: ReflectMessage, prefix: string, overrides: RuleOverrides, out: FieldViolation[]): void {
  for (const { field, rules, nested } of planFor(msg.desc, overrides)) {
    // Fields of an unselected oneof member are absent, not invalid.
    if (field.oneof && !msg.isSet(field)) continue;
    const path = prefix + field.name;
    if (field.fieldKind === "list") {
      const list = msg.get(field) as ReflectList;
      if (rules) checkCount(path, list.size, rules, out);
      if (nested) {
        let i = 0;
        for (const item of list) visit(item as ReflectMessage, `${path}[${i++}].`, overrides, out);
      }
      continue;
    }
    if (field.fieldKind === "message") {
      if (nested && msg.isSet(field)) visit(msg.get(field) as ReflectMessage, path + ".", overrides, out);
      continue;
    }
    if (!rules) continue;
    const value = msg.get(field);
    if (field.fieldKind === "enum") {
      if (rules.definedNotUnspecified && !(value !== 0 && field.enum.values.some((v) => v.number === value))) {
        const unspecified = field.enum.values.find((v) => v.number === 0)?.name ?? "0";
        out.push({ field: path, rule: "DEFINED_NOT_UNSPECIFIED", description: `must be a defined ${field.enum.name} other than ${unspecified} (got ${enumName(field, value as number)})` });
      }
    } else if (typeof value === "string") {
      if (rules.minLen !== undefined && value.length < rules.minLen) {
        out.push({ field: path, rule: "MIN_LEN", description: `must be at least ${rules.minLen} character(s) (got ${value.length})` });
      }
      if (rules.maxLen !== undefined && value.length > rules.maxLen) {
        out.push({ field: path, rule: "MAX_LEN", description: `must be at most ${rules.maxLen} characters (got ${value.length})` });
      }
    } else if (typeof value === "number" || typeof value === "bigint") {
      checkNumber(path, Number(value), rules, out);
    }
  }
}

function enumName(field: DescField & { fieldKind: "enum" }, n: number): string {
  return field.enum.values.find((v) => v.number === n)?.name ?? String(n);
}

function checkNumber(path: string, v: number, r: FieldRules, out: FieldViolation[]): void {
  const add = (rule: string, requirement: string) =>
    out.push({ field: path, rule, description: `must be ${requirement} (got ${v})` });
  if (r.finite && !Number.isFinite(v)) {
    add("FINITE", "a finite number");
    return; // the bounds say nothing more about NaN or Infinity
  }
  if (r.gte !== undefined && !(v >= r.gte)) add("GTE", `at least ${r.gte}`);
  if (r.gt !== undefined && !(v > r.gt)) add("GT", `greater than ${r.gt}`);
  if (r.lte !== undefined && !(v <= r.lte)) add("LTE", `at most ${r.lte}`);
  if (r.lt !== undefined && !(v < r.lt)) add("LT", `less than ${r.lt}`);
}

function checkCount(path: string, n: number, r: FieldRules, out: FieldViolation[]): void {
  if (r.minItems !== undefined && n < r.minItems) {
    out.push({ field: path, rule: "MIN_ITEMS", description: `must have at least ${r.minItems} item(s) (got ${n})` });
  }
  if (r.maxItems !== undefined && n > r.maxItems) {
    out.push({ field: path, rule: "MAX_ITEMS", description: `must have at most ${r.maxItems} item(s) (got ${n})` });
  }
}

/**
 * One line naming every bad field and the rule it broke. It avoids the
 * characters that grpc-js leaves percent-encoded in grpc-message (":", ";",
 * ",", "=" and other URI-reserved ones), so every client reads it as written.
 */
export function describeViolations(violations: readonly FieldViolation[]): string {
  const n = violations.length;
  return `invalid request (${n} violation${n === 1 ? "" : "s"}) - ` + violations.map((v) => `${v.field} ${v.description}`).join(" - ");
}
