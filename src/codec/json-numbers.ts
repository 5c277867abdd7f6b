// proto3 JSON lets a number be given as a string, a *decimal* one
// ("Either numbers or strings are accepted"; int64: "a decimal string").
// protobuf-es converts such strings with Number() or BigInt(), which also
// take hex, octal and binary ("0x1F" is 31), a sign "+", a bare ".5" or "5.",
// leading zeros and (BigInt) padding. This finds the first numeric field whose
// string is none of the JSON number forms, so the request can be refused.
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { WRAPPERS } from "./field-kinds.js";

export interface NonDecimalNumber {
  /** Path from the request root, e.g. "inputs[2].age". */
  field: string;
  value: string;
}

/** JSON's number grammar (RFC 8259), which Go's protojson also holds quoted numbers to. */
const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** float and double also have these three (proto3 JSON). */
const FLOAT_WORDS = new Set(["NaN", "Infinity", "-Infinity"]);

/**
 * Raw text that may hold such a string: a string starting with padding before
 * a digit, "+", ".", "-." or a 0 before another digit or x/o/b; a "." before
 * a string's end or an exponent; an escape other than \" \\ \/ ("\u0030x1F"
 * is "0x1F"). None occurs outside strings in valid JSON, so most bodies pass
 * with a native scan and no parse.
 */
const SUSPECT = /"(?:\s+[-+\d.]|[+.]|-?0[\dxXbBoO]|-\.)|\.["eE]|\\[^"\\/]/;
/** SUSPECT's first alternative, tried at one quote (sticky). */
const SUSPECT_AT_QUOTE = /"(?:\s+[-+\d.]|[+.]|-?0[\dxXbBoO]|-\.)/y;
/** 64-bit fields are read with BigInt(), which also takes trailing padding ("31 "). */
const SUSPECT_PADDED = /\d\s+"/;
/** A long body with few quotes is mostly one long string (an image's base64), which the regex would walk char by char. */
const LONG = 4096;
const FEW_QUOTES = 64;

/** SUSPECT.test(text); for a long text with few quotes, by finding its quotes, dots and backslashes natively. */
function suspect(text: string): boolean {
  if (text.length < LONG) return SUSPECT.test(text);
  let quotes = 0;
  for (let i = text.indexOf('"'); i !== -1; i = text.indexOf('"', i + 1)) {
    if (++quotes > FEW_QUOTES) return SUSPECT.test(text);
    SUSPECT_AT_QUOTE.lastIndex = i;
    if (SUSPECT_AT_QUOTE.test(text)) return true;
  }
  return text.includes('."') || text.includes(".e") || text.includes(".E") || (text.includes("\\") && /\\[^"\\/]/.test(text));
}

const NUMERIC = new Set([
  ScalarType.DOUBLE,
  ScalarType.FLOAT,
  ScalarType.INT32,
  ScalarType.UINT32,
  ScalarType.SINT32,
  ScalarType.FIXED32,
  ScalarType.SFIXED32,
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

/** The first numeric field of `schema` given a non-decimal string in `text`; undefined if none (or if `text` is not JSON: the parser says so). */
export function findNonDecimalNumber(schema: DescMessage, text: string): NonDecimalNumber | undefined {
  if (!suspect(text) && !(has64BitField(schema) && SUSPECT_PADDED.test(text))) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  return inMessage(schema, json, "");
}

const BIGINT = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const with64 = new WeakMap<DescMessage, boolean>();

/** Whether the message, or one nested in it, has a 64-bit integer field (computed once per type). */
function has64BitField(schema: DescMessage, seen = new Set<DescMessage>()): boolean {
  const known = with64.get(schema);
  if (known !== undefined) return known;
  if (seen.has(schema)) return false;
  seen.add(schema);
  const found = schema.fields.some((f) => {
    if (f.fieldKind === "scalar" || (f.fieldKind === "list" && f.listKind === "scalar")) return BIGINT.has(f.scalar);
    if (f.fieldKind === "map")
      return BIGINT.has(f.mapKey) || (f.mapKind === "scalar" && BIGINT.has(f.scalar)) || (f.mapKind === "message" && has64BitField(f.message, seen));
    const nested = f.fieldKind === "message" ? f.message : f.fieldKind === "list" && f.listKind === "message" ? f.message : undefined;
    return nested !== undefined && has64BitField(nested, seen);
  });
  with64.set(schema, found);
  return found;
}

function inMessage(schema: DescMessage, json: unknown, path: string): NonDecimalNumber | undefined {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = schema.fields.find((f) => f.jsonName === key || f.name === key);
    if (!field || value === null) continue;
    const found = inField(field, value, path === "" ? field.name : `${path}.${field.name}`);
    if (found) return found;
  }
  return undefined;
}

function inField(field: DescField, value: unknown, path: string): NonDecimalNumber | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return inScalar(field.scalar, value, path);
    case "message":
      return inValue(field.message, value, path);
    case "list":
      if (!Array.isArray(value)) return undefined;
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        const found =
          field.listKind === "scalar"
            ? inScalar(field.scalar, item, `${path}[${i}]`)
            : field.listKind === "message"
              ? inValue(field.message, item, `${path}[${i}]`)
              : undefined;
        if (found) return found;
      }
      return undefined;
    case "map":
      if (value === null || typeof value !== "object") return undefined;
      for (const [key, item] of Object.entries(value)) {
        const found =
          NUMERIC.has(field.mapKey) && !DECIMAL.test(key)
            ? { field: `${path}[${JSON.stringify(key)}]`, value: key }
            : field.mapKind === "scalar"
              ? inScalar(field.scalar, item, `${path}[${JSON.stringify(key)}]`)
              : field.mapKind === "message"
                ? inValue(field.message, item, `${path}[${JSON.stringify(key)}]`)
                : undefined;
        if (found) return found;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** A message value, or a wrapper (e.g. Int32Value), which JSON writes as its bare number. */
function inValue(schema: DescMessage, value: unknown, path: string): NonDecimalNumber | undefined {
  if (WRAPPERS.has(schema.typeName)) {
    const inner = schema.fields[0];
    return inner?.fieldKind === "scalar" ? inScalar(inner.scalar, value, path) : undefined;
  }
  if (schema.typeName.startsWith("google.protobuf.")) return undefined;
  return inMessage(schema, value, path);
}

function inScalar(type: ScalarType, value: unknown, path: string): NonDecimalNumber | undefined {
  if (typeof value !== "string" || !NUMERIC.has(type) || DECIMAL.test(value)) return undefined;
  if ((type === ScalarType.DOUBLE || type === ScalarType.FLOAT) && FLOAT_WORDS.has(value)) return undefined;
  return { field: path, value };
}
