// Protobuf JSON for the answers the fast path sends to Connect JSON clients,
// through a writer compiled per message type. protobuf-es 2.13's
// toJsonString still builds a JSON object through reflection, then
// stringifies it; the compiled writer makes the text straight from the
// message, with no object in between (docs/design.md, "Compiled codecs and
// field rules").
//
// The compiled writer covers plain proto3 messages: scalars and enums without
// explicit presence, message fields, repeated fields, with Timestamp and
// Duration values; anything else (oneofs, maps, proto3 `optional`, wrapper
// and other well-known types) goes to toJsonString, as does a Timestamp or
// Duration whose value protobuf-es would refuse. test/json-encoder.test.ts
// checks the text equals toJsonString's for every message type of the
// contract.
import { toJson, toJsonString, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { DurationSchema, TimestampSchema, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { IMPLICIT, scalarKind, setCondition, WRAPPERS } from "./field-kinds.js";
import { KEPT_STRINGS, KeptValues, SHORT_STRING } from "./short-string-cache.js";

/** The message as protobuf JSON text, exactly as toJsonString(schema, message) writes it. */
export function encodeJson(schema: DescMessage, message: Message): string {
  // A value the writer does not take (e.g. a Timestamp out of range) makes it answer undefined.
  return writerFor(schema)?.(message) ?? toJsonString(schema, message);
}

/** Whether encodeJson() writes this type itself (otherwise toJsonString does). */
export function writesJsonItself(schema: DescMessage): boolean {
  return writerFor(schema) !== undefined;
}

type Writer = (message: Message) => string | undefined;

const writers = new WeakMap<DescMessage, Writer | null>();

function writerFor(desc: DescMessage): Writer | undefined {
  const known = writers.get(desc);
  if (known !== undefined) return known ?? undefined;
  writers.set(desc, null); // a recursive type is left to toJsonString
  // Well-known types have JSON forms of their own (Timestamp and Duration fields are written by HELPERS).
  if (desc.typeName.startsWith("google.protobuf.")) return undefined;
  const subs: Writer[] = [];
  const enums: Map<number, string>[] = [];
  const lines = ['let s = "";', "let v;"];
  for (const field of desc.fields) {
    const code = fieldCode(field, subs, enums);
    if (code === undefined) return undefined;
    lines.push(`v = m[${JSON.stringify(field.localName)}];`, code);
  }
  lines.push('return s === "" ? "{}" : "{" + s.slice(1) + "}";');
  const write = new Function("H", "S", "E", `return function write(m) {\n${lines.join("\n")}\n};`)(HELPERS, subs, enums) as Writer;
  writers.set(desc, write);
  return write;
}

/** Appends `,"jsonName":value` to `s` when the field is set; undefined when the field is not written here. */
function fieldCode(field: DescField, subs: Writer[], enums: Map<number, string>[]): string | undefined {
  if (field.oneof !== undefined) return undefined;
  const key = JSON.stringify(`,${JSON.stringify(field.jsonName)}:`);
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      if (field.presence !== IMPLICIT) return undefined;
      const value = valueCode(field, enums, "v");
      return `if (${notDefault(field)}) s += ${key} + ${value};`;
    }
    case "message": {
      const sub = messageCode(field.message, subs, "v");
      return sub === undefined ? undefined : `if (v !== undefined) { const j = ${sub}; if (j === undefined) return undefined; s += ${key} + j; }`;
    }
    case "list": {
      let item: string | undefined;
      if (field.listKind === "message") item = messageCode(field.message, subs, "v[i]");
      else item = valueCode(field, enums, "v[i]");
      if (item === undefined) return undefined;
      return `if (v.length > 0) { let a = ""; for (let i = 0; i < v.length; i++) { const j = ${item}; if (j === undefined) return undefined; a += "," + j; } s += ${key} + "[" + a.slice(1) + "]"; }`;
    }
    default:
      return undefined; // maps
  }
}

/** JSON text of a message value, or undefined (then the whole answer goes to toJsonString). */
function messageCode(desc: DescMessage, subs: Writer[], v: string): string | undefined {
  if (desc.typeName === TimestampSchema.typeName) return `H.timestamp(${v})`;
  if (desc.typeName === DurationSchema.typeName) return `H.duration(${v})`;
  if (WRAPPERS.has(desc.typeName) || desc.typeName.startsWith("google.protobuf.")) return undefined;
  const sub = writerFor(desc);
  if (sub === undefined) return undefined;
  subs.push(sub);
  return `S[${subs.length - 1}](${v})`;
}

function valueCode(field: DescField & { fieldKind: "scalar" | "enum" | "list" }, enums: Map<number, string>[], v: string): string {
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
    enums.push(new Map(field.enum!.values.map((e) => [e.number, JSON.stringify(e.name)])));
    // A number the schema does not name is written as the number.
    return `(E[${enums.length - 1}].get(${v}) ?? String(${v}))`;
  }
  const kind = scalarKind((field as { scalar: Parameters<typeof scalarKind>[0] }).scalar);
  return `H.${kind}(${v})`;
}

/** The condition under which toJsonString writes a field with implicit presence (its value is not the default). */
function notDefault(field: DescField): string {
  if (field.fieldKind === "enum") return setCondition("enum", field.enum.values[0]?.number ?? 0);
  return setCondition(scalarKind((field as { scalar: Parameters<typeof scalarKind>[0] }).scalar));
}

const number = (v: number) => (Number.isFinite(v) ? String(v) : Number.isNaN(v) ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"');
const MIN_MS = Date.parse("0001-01-01T00:00:00Z");
const MAX_MS = Date.parse("9999-12-31T23:59:59Z");

/** The last Timestamp written, by value, and its text. */
let lastTimestamp: { seconds: bigint; nanos: number; text: string | undefined } = { seconds: -1n, nanos: -1, text: undefined };

const shortStrings = new KeptValues<string, string>(KEPT_STRINGS);

/** RFC 3339 with 0, 3, 6 or 9 fractional digits, as protobuf-es writes it; undefined for what it would refuse. */
function timestampText(t: Timestamp): string | undefined {
  const ms = Number(t.seconds) * 1000;
  if (!(ms >= MIN_MS && ms <= MAX_MS) || t.nanos < 0 || t.nanos > 999_999_999 || t.$unknown !== undefined) return undefined;
  let z = "Z";
  if (t.nanos > 0) {
    const nanos = (t.nanos + 1_000_000_000).toString().substring(1);
    z = nanos.substring(3) === "000000" ? `.${nanos.substring(0, 3)}Z` : nanos.substring(6) === "000" ? `.${nanos.substring(0, 6)}Z` : `.${nanos}Z`;
  }
  return `"${new Date(ms).toISOString().replace(".000Z", z)}"`;
}

const HELPERS = {
  double: number,
  float: number,
  varint32: String,
  uvarint32: String,
  sint32: String,
  fixed32: String,
  sfixed32: String,
  int64: (v: bigint) => `"${v}"`,
  uint64: (v: bigint) => `"${v}"`,
  sint64: (v: bigint) => `"${v}"`,
  fixed64: (v: bigint) => `"${v}"`,
  sfixed64: (v: bigint) => `"${v}"`,
  bool: String,
  // Short strings (the ones answers repeat: names, labels, factor texts) as escaped once.
  string: (v: string) => (v.length <= SHORT_STRING ? (shortStrings.get(v) ?? shortStrings.keep(v, JSON.stringify(v))) : JSON.stringify(v)),
  bytes: (v: Uint8Array) => `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")}"`,
  timestamp(t: Timestamp): string | undefined {
    // Answers made in the same millisecond carry the same time.
    if (t.seconds === lastTimestamp.seconds && t.nanos === lastTimestamp.nanos && t.$unknown === undefined) return lastTimestamp.text;
    const text = timestampText(t);
    lastTimestamp = { seconds: t.seconds, nanos: t.nanos, text };
    return text;
  },
  /** protobuf-es's own, for the rare Duration (and its checks). */
  duration(d: Duration): string | undefined {
    try {
      return JSON.stringify(toJson(DurationSchema, d));
    } catch {
      return undefined;
    }
  },
};
