// Reads the contract's field-rule option (e.g. prediction.v1.rules) from a
// field as plain numbers and flags, and maps it to JSON Schema keywords. The
// plugin finds the option's definition in the request itself, so it needs no
// generated code (buf generate clears gen/ before the plugins run).
import { getOption, hasOption, isMessage, type DescExtension, type DescField, type DescFile } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";

export type Rules = Record<string, number | boolean>;

/** The extension named `name` among the request's files, if any declares it. */
export function findRulesExtension(files: readonly DescFile[], name: string): DescExtension | undefined {
  for (const file of files) {
    const found = file.extensions.find((e) => e.typeName === name);
    if (found) return found;
  }
  return undefined;
}

/** The rules set on the field, keyed by the option's proto field names (gte, max_len...). */
export function rulesOf(field: DescField, ext: DescExtension | undefined): Rules {
  if (ext?.fieldKind !== "message" || !hasOption(field, ext)) return {};
  const value: unknown = getOption(field, ext);
  if (!isMessage(value, ext.message)) return {};
  const r = reflect(ext.message, value);
  const out: Rules = {};
  for (const f of ext.message.fields) {
    if (!r.isSet(f)) continue;
    const v = r.get(f);
    if (typeof v === "number" || typeof v === "boolean") out[f.name] = v;
  }
  return out;
}

/** JSON Schema keywords for a scalar or string field's rules. */
export function valueKeywords(rules: Rules): Record<string, number> {
  const out: Record<string, number> = {};
  const map: Array<[string, string]> = [
    ["gte", "minimum"],
    ["gt", "exclusiveMinimum"],
    ["lte", "maximum"],
    ["lt", "exclusiveMaximum"],
    ["min_len", "minLength"],
    ["max_len", "maxLength"],
  ];
  for (const [rule, keyword] of map) if (typeof rules[rule] === "number") out[keyword] = rules[rule];
  return out;
}

/** JSON Schema keywords for a repeated field's rules. */
export function listKeywords(rules: Rules): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof rules.min_items === "number") out.minItems = rules.min_items;
  if (typeof rules.max_items === "number") out.maxItems = rules.max_items;
  return out;
}
