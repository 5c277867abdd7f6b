// Checks a message against the (prediction.v1.rules) options declared in the
// contract. Pure functions of (schema, message): the validation interceptor
// calls them, and so can any test, without a server.
import { getOption, hasOption, ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { IMPLICIT } from "../codec/field-kinds.js";
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
  /** The sibling field named by rules.lteField, and that field's own rules. */
  bound?: { other: DescField; offset: number; otherRules?: FieldRules };
}

// The plan per (overrides, message type) is computed once: reading options
// on every call would be wasted work on the hot path.
const plans = new WeakMap<RuleOverrides, WeakMap<DescMessage, FieldPlan[]>>();

function planFor(schema: DescMessage, overrides: RuleOverrides): FieldPlan[] {
  let bySchema = plans.get(overrides);
  if (!bySchema) {
    bySchema = new WeakMap();
    plans.set(overrides, bySchema);
  }
  let plan = bySchema.get(schema);
  if (!plan) {
    plan = buildPlan(schema, overrides);
    bySchema.set(schema, plan);
  }
  return plan;
}

function buildPlan(schema: DescMessage, overrides: RuleOverrides): FieldPlan[] {
  const plan: FieldPlan[] = [];
  for (const field of schema.fields) {
    let rules = hasOption(field, rulesExtension) ? getOption(field, rulesExtension) : undefined;
    const override = overrides.get(`${field.parent.typeName}.${field.name}`);
    if (override) rules = { ...(rules ?? ({} as FieldRules)), ...override };
    const nested = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
    if (rules || (nested && !isWellKnown(nested)))
      plan.push({ field, rules, nested, bound: rules?.lteField && siblingBound(schema, field, rules.lteField.field, rules.lteField.offset) });
  }
  return plan;
}

/** Resolves an lte_field rule; a rule naming no numeric sibling is a contract bug, refused loudly. */
function siblingBound(schema: DescMessage, field: DescField, name: string, offset: number): FieldPlan["bound"] {
  const other = schema.fields.find((f) => f.name === name);
  const numeric = other?.fieldKind === "scalar" && other.scalar !== ScalarType.STRING && other.scalar !== ScalarType.BOOL && other.scalar !== ScalarType.BYTES;
  if (!other || !numeric || other.oneof !== undefined)
    throw new Error(`${schema.typeName}.${field.name}: lte_field names "${name}", not a numeric field of the same message`);
  return { other, offset, otherRules: hasOption(other, rulesExtension) ? getOption(other, rulesExtension) : undefined };
}

const isWellKnown = (m: DescMessage) => m.typeName.startsWith("google.protobuf.");

const NO_OVERRIDES: RuleOverrides = new Map();

/** The rules of one field as the checker enforces them, and the sibling its lte_field names. */
export interface EnforcedRules {
  rules: FieldRules;
  bound?: { other: DescField; offset: number };
}

/**
 * The contract's rules on each of the message's own fields that has any, as
 * the checker reads them (without run-time overrides): what GetModelMetadata
 * tells clients is what this checker refuses.
 */
export function enforcedRules(schema: DescMessage): ReadonlyMap<DescField, EnforcedRules> {
  return new Map(planFor(schema, NO_OVERRIDES).flatMap((p) => (p.rules ? [[p.field, { rules: p.rules, bound: p.bound }] as const] : [])));
}

/** Every violation in the message, in field order; empty when it is valid. */
export function findViolations(schema: DescMessage, message: Message, overrides: RuleOverrides = NO_OVERRIDES): FieldViolation[] {
  // Nearly every request is valid, and a PredictBatch carries 100 rows: check
  // first without building a single field path or description, and walk the
  // message again to describe what is wrong only when something is.
  return keepsRules(schema, message, overrides) ? [] : allViolations(schema, message, overrides);
}

/** Whether the message keeps every rule (the first, check-only pass of findViolations). */
export function keepsRules(schema: DescMessage, message: Message, overrides: RuleOverrides = NO_OVERRIDES): boolean {
  const check = compiledCheck(schema, overrides);
  return check ? check(message) : visit(schema, message, "", overrides, undefined);
}

/** Every violation, found by walking the plan (findViolations' second pass; tests compare the compiled check with it). */
export function allViolations(schema: DescMessage, message: Message, overrides: RuleOverrides = NO_OVERRIDES): FieldViolation[] {
  const out: FieldViolation[] = [];
  visit(schema, message, "", overrides, out);
  return out;
}

/** Whether a message keeps every rule, as straight-line code for its type. */
type Check = (message: Message) => boolean;

const checks = new WeakMap<RuleOverrides, WeakMap<DescMessage, Check | null>>();

/**
 * The check-only pass compiled per (overrides, message type), as the codecs
 * are: each rule becomes one comparison on its field's own property, so a
 * PredictBatch of 100 rows runs 100 times the same few lines instead of
 * walking the plan field by field for every row (protobuf-es checks no rules
 * itself: the walk is the alternative; docs/design.md, "Compiled codecs and
 * field rules").
 * Undefined for what it does not cover (oneofs, message fields, fields with
 * explicit presence, recursive types): visit() decides those.
 */
function compiledCheck(schema: DescMessage, overrides: RuleOverrides): Check | undefined {
  let bySchema = checks.get(overrides);
  if (!bySchema) {
    bySchema = new WeakMap();
    checks.set(overrides, bySchema);
  }
  const known = bySchema.get(schema);
  if (known !== undefined) return known ?? undefined;
  bySchema.set(schema, null); // in progress: a recursive type is left to visit()
  const subs: Check[] = [];
  const constants: unknown[] = [];
  // Finite numbers go into the source as literals (compared as constants); anything else by reference.
  const constant = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? String(v) : `C[${constants.push(v) - 1}]`);
  const lines = ["let v;"];
  for (const { field, rules, nested, bound } of planFor(schema, overrides)) {
    // Not in any request of the contract (left to visit() rather than compiled untested).
    if (field.oneof !== undefined || field.fieldKind === "message") return undefined;
    if (field.fieldKind !== "list" && field.presence !== IMPLICIT) return undefined;
    lines.push(`v = m[${JSON.stringify(field.localName)}];`);
    let sub: string | undefined;
    if (nested) {
      const check = compiledCheck(nested, overrides);
      if (check === undefined) return undefined;
      sub = `S[${subs.push(check) - 1}]`;
    }
    if (field.fieldKind === "list") {
      if (rules) lines.push(...sizeChecks("v.length", rules.minItems, rules.maxItems, constant));
      if (sub) lines.push(`for (let i = 0; i < v.length; i++) if (!${sub}(v[i])) return false;`);
    } else if (rules && field.fieldKind === "enum") {
      if (rules.definedNotUnspecified) lines.push(`if (v === 0 || !${constant(new Set(field.enum.values.map((e) => e.number)))}.has(v)) return false;`);
    } else if (rules && field.fieldKind === "scalar" && field.scalar === ScalarType.STRING) {
      lines.push(...sizeChecks("v.length", rules.minLen, rules.maxLen, constant));
    } else if (rules && field.fieldKind === "scalar" && field.scalar !== ScalarType.BOOL && field.scalar !== ScalarType.BYTES) {
      // As checkNumber: a non-finite value breaks `finite` and nothing else; NaN fails every bound.
      lines.push("v = Number(v);");
      if (rules.finite) lines.push("if (!Number.isFinite(v)) return false;");
      for (const [op, limit] of [
        [">=", rules.gte],
        [">", rules.gt],
        ["<=", rules.lte],
        ["<", rules.lt],
      ] as const) {
        if (limit !== undefined) lines.push(`if (!(v ${op} ${constant(limit)})) return false;`);
      }
      // The sibling's own rules are checked too, so whether it is valid need not be asked here.
      if (bound) lines.push(`if (!(v <= Number(m[${JSON.stringify(bound.other.localName)}]) + ${constant(bound.offset)})) return false;`);
    }
  }
  lines.push("return true;");
  const check = new Function("S", "C", `return function check(m) {\n${lines.join("\n")}\n};`)(subs, constants) as Check;
  bySchema.set(schema, check);
  return check;
}

function sizeChecks(n: string, min: number | undefined, max: number | undefined, constant: (v: unknown) => string): string[] {
  const out: string[] = [];
  if (min !== undefined) out.push(`if (${n} < ${constant(min)}) return false;`);
  if (max !== undefined) out.push(`if (${n} > ${constant(max)}) return false;`);
  return out;
}

/**
 * Whether the message keeps every rule. Without `out` it stops at the first
 * violation; with it, it records every violation with its path.
 */
function visit(schema: DescMessage, msg: Message, prefix: string, overrides: RuleOverrides, out: FieldViolation[] | undefined): boolean {
  let ok = true;
  const plan = planFor(schema, overrides);
  for (let f = 0; f < plan.length; f++) {
    const { field, rules, nested, bound } = plan[f];
    const value = fieldValue(msg, field);
    // An unselected oneof member or an unset message field is absent, not invalid.
    if (value === undefined) continue;
    const path = out ? prefix + field.name : "";
    if (field.fieldKind === "list") {
      const list = value as readonly unknown[];
      if (rules && !checkCount(path, list.length, rules, out)) ok = false;
      if (nested) {
        for (let i = 0; i < list.length && (ok || out); i++) {
          if (!visit(nested, list[i] as Message, out ? `${path}[${i}].` : "", overrides, out)) ok = false;
        }
      }
    } else if (field.fieldKind === "message") {
      if (nested && !visit(nested, value as Message, out ? `${path}.` : "", overrides, out)) ok = false;
    } else if (rules && !checkValue(field, path, value, rules, out)) {
      ok = false;
    } else if (bound && !checkBound(msg, path, Number(value), bound, out)) {
      ok = false;
    }
    if (!ok && !out) return false;
  }
  return ok;
}

/**
 * A field's value read straight from the message object, as protobuf-es lays
 * it out (a reflection wrapper per row cost a PredictBatch of 100 rows 100
 * wrappers); undefined for an unselected oneof member or an unset message.
 */
function fieldValue(msg: Message, field: DescField): unknown {
  // The Message type declares no fields, but protobuf-es keeps each under its localName.
  const obj: Record<string, unknown> = msg;
  if (field.oneof) {
    const selected = obj[field.oneof.localName] as { case: string | undefined; value?: unknown };
    return selected.case === field.localName ? selected.value : undefined;
  }
  const value = obj[field.localName];
  // A field with explicit presence that is unset reads as its zero value, as reflection gives it.
  if (value === undefined && field.fieldKind !== "message") return reflect(field.parent, msg).get(field);
  return value;
}

// The checks below return false on a violation, and record it only when
// asked to (`out`): the check-only pass builds no string and, having no
// closures, no per-call context either.
function record(out: FieldViolation[], field: string, rule: string, description: string): false {
  out.push({ field, rule, description });
  return false;
}

function checkValue(field: DescField, path: string, value: unknown, rules: FieldRules, out: FieldViolation[] | undefined): boolean {
  if (field.fieldKind === "enum") {
    if (!rules.definedNotUnspecified || (value !== 0 && field.enum.values.some((v) => v.number === value))) return true;
    if (!out) return false;
    const unspecified = field.enum.values.find((v) => v.number === 0)?.name ?? "0";
    return record(
      out,
      path,
      "DEFINED_NOT_UNSPECIFIED",
      `must be a defined ${field.enum.name} other than ${unspecified} (got ${enumName(field, value as number)})`,
    );
  }
  if (typeof value === "string") return checkLength(path, value.length, rules, out);
  if (typeof value === "number" || typeof value === "bigint") return checkNumber(path, Number(value), rules, out);
  return true;
}

function enumName(field: DescField & { fieldKind: "enum" }, n: number): string {
  return field.enum.values.find((v) => v.number === n)?.name ?? String(n);
}

/** How a string's length (MIN_LEN/MAX_LEN) and a list's size (MIN_ITEMS/MAX_ITEMS) are named in a violation. */
interface SizeRule {
  min: string;
  max: string;
  /** E.g. "be at least 3 character(s)": the verb and unit around the bound. */
  verb: string;
  unit: string;
}
const LENGTH: SizeRule = { min: "MIN_LEN", max: "MAX_LEN", verb: "be", unit: "character(s)" };
const COUNT: SizeRule = { min: "MIN_ITEMS", max: "MAX_ITEMS", verb: "have", unit: "item(s)" };

function checkLength(path: string, n: number, r: FieldRules, out: FieldViolation[] | undefined): boolean {
  return checkSize(path, n, r.minLen, r.maxLen, LENGTH, out);
}

function checkCount(path: string, n: number, r: FieldRules, out: FieldViolation[] | undefined): boolean {
  return checkSize(path, n, r.minItems, r.maxItems, COUNT, out);
}

function checkSize(path: string, n: number, min: number | undefined, max: number | undefined, rule: SizeRule, out: FieldViolation[] | undefined): boolean {
  let ok = true;
  if (min !== undefined && n < min) {
    if (!out) return false;
    ok = record(out, path, rule.min, `must ${rule.verb} at least ${min} ${rule.unit} (got ${n})`);
  }
  if (max !== undefined && n > max) {
    if (!out) return false;
    ok = record(out, path, rule.max, `must ${rule.verb} at most ${max} ${rule.unit} (got ${n})`);
  }
  return ok;
}

function checkNumber(path: string, v: number, r: FieldRules, out: FieldViolation[] | undefined): boolean {
  if (r.finite && !Number.isFinite(v)) {
    // The bounds say nothing more about NaN or Infinity.
    return out ? record(out, path, "FINITE", `must be a finite number (got ${v})`) : false;
  }
  let ok = true;
  if (r.gte !== undefined && !(v >= r.gte)) {
    if (!out) return false;
    ok = record(out, path, "GTE", `must be at least ${r.gte} (got ${v})`);
  }
  if (r.gt !== undefined && !(v > r.gt)) {
    if (!out) return false;
    ok = record(out, path, "GT", `must be greater than ${r.gt} (got ${v})`);
  }
  if (r.lte !== undefined && !(v <= r.lte)) {
    if (!out) return false;
    ok = record(out, path, "LTE", `must be at most ${r.lte} (got ${v})`);
  }
  if (r.lt !== undefined && !(v < r.lt)) {
    if (!out) return false;
    ok = record(out, path, "LT", `must be less than ${r.lt} (got ${v})`);
  }
  return ok;
}

/** An lte_field rule, checked once the value keeps its own rules and only when the sibling keeps its own. */
function checkBound(msg: Message, path: string, v: number, bound: NonNullable<FieldPlan["bound"]>, out: FieldViolation[] | undefined): boolean {
  const { other, offset, otherRules } = bound;
  const o = Number(fieldValue(msg, other));
  if (otherRules && !checkValue(other, "", o, otherRules, undefined)) return true;
  if (v <= o + offset) return true;
  if (!out) return false;
  // "+" is URI-reserved (grpc-js would percent-encode it in grpc-message): "plus" instead.
  const limit = offset === 0 ? other.name : `${other.name} ${offset < 0 ? "-" : "plus"} ${Math.abs(offset)}`;
  return record(out, path, "LTE_FIELD", `must be at most ${limit} (got ${v} with ${other.name} ${o})`);
}

/**
 * One line naming every bad field and the rule it broke. It avoids the
 * characters that grpc-js leaves percent-encoded in grpc-message (":", ";",
 * ",", "=" and other URI-reserved ones), so every client reads it as written.
 */
export function describeViolations(violations: readonly FieldViolation[]): string {
  const n = violations.length;
  return `invalid request (${n} violation${n === 1 ? "" : "s"}) - ${violations.map((v) => `${v.field} ${v.description}`).join(" - ")}`;
}
