// Protobuf binary encoding for the messages the fast path sends, written in
// one pass into a reused scratch buffer and copied out once. protobuf-es
// 2.13's toBinary still walks each message through reflection and writes
// through a BinaryWriter that collects bytes in number arrays, makes a
// Uint8Array for every nested message and string, and copies them together
// at the end. An answer of many small messages (PredictBatch) pays that per
// row (docs/design.md, "Compiled codecs and field rules").
//
// A nested message is written one byte after its tag, where a length below
// 128 goes, and moved along if its length turns out to need more bytes; so
// nothing is measured twice. The encoder is driven by the same protobuf-es
// descriptors, and covers the field kinds plain proto3 answers use: scalars
// and enums without explicit presence, message fields, repeated messages,
// strings and bytes, and packed repeated numbers. A message type with
// anything else (oneofs, maps, proto3 `optional`, groups, wrapper fields) or
// a message carrying unknown fields is encoded by toBinary instead;
// test/binary-encoder.test.ts checks the bytes equal toBinary's for every
// message type of the contract.
import { toBinary, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { IMPLICIT, scalarKind, setCondition, wireTypeOf, WRAPPERS, type Kind } from "./field-kinds.js";
import { KEPT_STRINGS, KeptValues, SHORT_STRING } from "./short-string-cache.js";

/** Grows to the largest message encoded (a 100-row PredictBatch answer is ~16 KB). */
let buf = Buffer.allocUnsafe(64 * 1024);
/** Doubles and floats go through a DataView: one store each, where Buffer's writeDoubleLE checks bounds and copies byte by byte. */
let view = viewOf(buf);

/** Returned by the writers when a message carries unknown fields: toBinary keeps those. */
const UNKNOWN = -1;

/**
 * The message's encoding in a Buffer that starts with `reserve` bytes left for
 * the caller (e.g. gRPC's 5-byte message prefix).
 */
export function encodeMessage(schema: DescMessage, message: Message, reserve = 0): Buffer {
  const plan = planFor(schema);
  const end = plan === undefined ? UNKNOWN : writerOf(plan)(message, reserve);
  if (end !== UNKNOWN) {
    const out = Buffer.allocUnsafe(end);
    buf.copy(out, reserve, reserve, end);
    return out;
  }
  const bytes = toBinary(schema, message);
  const out = Buffer.allocUnsafe(reserve + bytes.length);
  out.set(bytes, reserve);
  return out;
}

/** Whether encodeMessage() writes this type itself (otherwise it hands it to toBinary). */
export function encodesItself(schema: DescMessage): boolean {
  return planFor(schema) !== undefined;
}

interface FieldPlan {
  readonly name: string;
  /** Tag bytes: field number and wire type. */
  readonly tag: readonly number[];
  readonly shape: "scalar" | "message" | "messages" | "packed" | "strings";
  readonly kind?: Kind;
  /** An enum's zero (first) value, not written under implicit presence. */
  readonly zero?: number;
  readonly sub?: MessagePlan;
}

interface MessagePlan {
  readonly fields: FieldPlan[];
  /** Compiled on first use (see writerOf). */
  write?: Writer;
}

/** Writes a message's fields at `pos`; returns the end, or UNKNOWN. */
type Writer = (message: Message, pos: number) => number;

const plans = new WeakMap<DescMessage, MessagePlan | null>();

/** A plan for the message type, or undefined when some field is not covered here. */
function planFor(desc: DescMessage): MessagePlan | undefined {
  const known = plans.get(desc);
  if (known !== undefined) return known ?? undefined;
  const plan: MessagePlan = { fields: [] };
  // Set before the fields, so a recursive type finds its own plan.
  plans.set(desc, plan);
  for (const field of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const fieldPlan = planField(field);
    if (fieldPlan === undefined) {
      plans.set(desc, null);
      return undefined;
    }
    plan.fields.push(fieldPlan);
  }
  return plan;
}

function planField(field: DescField): FieldPlan | undefined {
  if (field.oneof !== undefined) return undefined;
  const name = field.localName;
  switch (field.fieldKind) {
    case "scalar": {
      if (field.presence !== IMPLICIT) return undefined;
      const kind = scalarKind(field.scalar);
      return { name, tag: tag(field.number, wireTypeOf(kind)), shape: "scalar", kind };
    }
    case "enum":
      if (field.presence !== IMPLICIT) return undefined;
      return { name, tag: tag(field.number, 0), shape: "scalar", kind: "enum", zero: field.enum.values[0]?.number ?? 0 };
    case "message": {
      // Wrapper types are unwrapped to plain values in protobuf-es messages.
      if (field.delimitedEncoding || WRAPPERS.has(field.message.typeName)) return undefined;
      const sub = planFor(field.message);
      return sub && { name, tag: tag(field.number, 2), shape: "message", sub };
    }
    case "list": {
      if (field.listKind === "message") {
        if (field.delimitedEncoding || WRAPPERS.has(field.message.typeName)) return undefined;
        const sub = planFor(field.message);
        return sub && { name, tag: tag(field.number, 2), shape: "messages", sub };
      }
      const kind = field.listKind === "enum" ? "enum" : scalarKind(field.scalar);
      if (kind === "string" || kind === "bytes") return { name, tag: tag(field.number, 2), shape: "strings", kind };
      return field.packed ? { name, tag: tag(field.number, 2), shape: "packed", kind } : undefined;
    }
    default:
      return undefined; // maps
  }
}

function tag(number: number, wireType: number): number[] {
  const bytes: number[] = [];
  let v = ((number << 3) | wireType) >>> 0;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return bytes;
}

/** Makes room for `n` more bytes at `pos`. */
function ensure(pos: number, n: number): void {
  if (pos + n <= buf.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
  buf.copy(bigger, 0, 0, pos);
  buf = bigger;
  view = viewOf(buf);
}

function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function writeTag(pos: number, tag: readonly number[]): number {
  ensure(pos, tag.length);
  for (let i = 0; i < tag.length; i++) buf[pos++] = tag[i]!;
  return pos;
}

/** A tag of one byte (field numbers 1 to 15), the usual case, written without an array. */
function writeTag1(pos: number, tag: number): number {
  ensure(pos, 1);
  buf[pos] = tag;
  return pos + 1;
}

/**
 * The plan's writer, compiled to straight-line code for its fields: each
 * field's property is then read by its own code site, not through one site
 * that sees every field name (a megamorphic lookup per field); protobufjs
 * compiles its codecs the same way. Only the plan's own field names, numbers
 * and kinds go into the source, field names through JSON.stringify.
 */
function writerOf(plan: MessagePlan): Writer {
  if (plan.write) return plan.write;
  const subs: MessagePlan[] = [];
  const tags: (readonly number[])[] = [];
  const lines = ["const u = m.$unknown;", "if (u !== undefined && u.length > 0) return -1;", "let v;"];
  for (const f of plan.fields) {
    lines.push(`v = m[${JSON.stringify(f.name)}];`);
    const tag = f.tag.length === 1 ? `pos = H.tag1(pos, ${f.tag[0]});` : `pos = H.tag(pos, T[${tags.push(f.tag) - 1}]);`;
    switch (f.shape) {
      case "scalar":
        lines.push(`if (${notDefault(f)}) { ${tag} pos = H.${f.kind}(v, pos); }`);
        break;
      case "message":
        subs.push(f.sub!);
        lines.push(`if (v !== undefined) { ${tag} ${nestedCode(subs.length - 1, "v")} }`);
        break;
      case "messages":
        subs.push(f.sub!);
        lines.push(`for (let i = 0; i < v.length; i++) { ${tag} ${nestedCode(subs.length - 1, "v[i]")} }`);
        break;
      case "strings":
        lines.push(`for (let i = 0; i < v.length; i++) { ${tag} pos = H.${f.kind}(v[i], pos); }`);
        break;
      case "packed":
        lines.push(
          `if (v.length > 0) { ${tag} const start = pos + 1; let end = start; for (let i = 0; i < v.length; i++) end = H.${f.kind}(v[i], end); pos = H.placeLength(pos, start, end); }`,
        );
        break;
    }
  }
  lines.push("return pos;");
  const make = new Function("H", "S", "T", `return function write(m, pos) {\n${lines.join("\n")}\n};`) as (
    h: typeof HELPERS,
    s: MessagePlan[],
    t: (readonly number[])[],
  ) => Writer;
  plan.write = make(HELPERS, subs, tags);
  // Set before the sub-messages' writers, so that a recursive type finds its own.
  for (const sub of subs) writerOf(sub);
  return plan.write;
}

/**
 * A length-delimited message, written one byte after its tag, where a length
 * below 128 goes; placeLength moves it along when its length needs more. The
 * sub-writer is called from this field's own code site, so V8 sees one target
 * there (through one shared helper it would see every message type's writer).
 */
function nestedCode(sub: number, value: string): string {
  return `pos = H.ensure1(pos); { const end = S[${sub}].write(${value}, pos + 1); if (end < 0) return -1; pos = H.placeLength(pos, pos + 1, end); }`;
}

/** The condition under which toBinary writes a field with implicit presence: its value is not the default. */
function notDefault(f: FieldPlan): string {
  return setCondition(f.kind!, f.zero);
}

/** Writes the length of [start, end) at `pos`, moving the bytes along when it needs more than the one byte left. */
function placeLength(pos: number, start: number, end: number): number {
  const length = end - start;
  const extra = varintSize(length) - 1;
  if (extra > 0) {
    ensure(end, extra);
    buf.copyWithin(start + extra, start, end);
  }
  writeVarint(pos, length);
  return end + extra;
}

/** What the compiled writers call: one function per value kind, and the framing helpers. */
const HELPERS = {
  tag: writeTag,
  tag1: writeTag1,
  ensure1: (pos: number) => (ensure(pos, 1), pos),
  placeLength,
  double: (v: number, pos: number) => (ensure(pos, 8), view.setFloat64(pos, v, true), pos + 8),
  float: (v: number, pos: number) => (ensure(pos, 4), view.setFloat32(pos, v, true), pos + 4),
  // Buffer's own writers here: they refuse a value out of the type's range, as toBinary does.
  fixed32: (v: number, pos: number) => (ensure(pos, 4), buf.writeUInt32LE(v, pos)),
  sfixed32: (v: number, pos: number) => (ensure(pos, 4), buf.writeInt32LE(v, pos)),
  fixed64: (v: bigint, pos: number) => (ensure(pos, 8), buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), pos)),
  sfixed64: (v: bigint, pos: number) => (ensure(pos, 8), buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(v)), pos)),
  bool: (v: boolean, pos: number) => {
    ensure(pos, 1);
    buf[pos] = v ? 1 : 0;
    return pos + 1;
  },
  uvarint32: (v: number, pos: number) => (ensure(pos, 5), writeVarint(pos, v)),
  varint32: writeInt32,
  enum: writeInt32,
  sint32: (v: number, pos: number) => (ensure(pos, 5), writeVarint(pos, zigzag32(v))),
  int64: writeUint64,
  uint64: writeUint64,
  sint64: (v: bigint, pos: number) => (ensure(pos, 10), writeVarint64(pos, zigzag64(BigInt(v)))),
  string: writeString,
  bytes: (b: Uint8Array, pos: number) => {
    ensure(pos, 5 + b.length);
    pos = writeVarint(pos, b.length);
    buf.set(b, pos);
    return pos + b.length;
  },
} satisfies Record<Kind, (v: never, pos: number) => number> & Record<string, unknown>;

/** A negative int32 is written as ten bytes, sign-extended to 64 bits. */
function writeInt32(v: number, pos: number): number {
  ensure(pos, 10);
  return v < 0 ? writeVarint64(pos, BigInt.asUintN(64, BigInt(v))) : writeVarint(pos, v);
}

function writeUint64(v: bigint | string, pos: number): number {
  ensure(pos, 10);
  const n = safeNumber(v);
  return n >= 0 ? writeVarintOf(pos, n) : writeVarint64(pos, BigInt.asUintN(64, BigInt(v)));
}

/**
 * Short strings as written (length byte and UTF-8), for the ones answers repeat
 * from call to call: model names and versions, labels, factor texts. A lookup
 * and one copy cost less than writing the characters one at a time.
 */
const shortStrings = new KeptValues<string, Uint8Array>(KEPT_STRINGS);

function writeString(s: string, pos: number): number {
  // At most 3 bytes per UTF-16 unit: a short string's length takes one byte.
  if (s.length <= SHORT_STRING) {
    const known = shortStrings.get(s);
    if (known !== undefined) {
      ensure(pos, known.length);
      buf.set(known, pos);
      return pos + known.length;
    }
    const end = writeShortString(s, pos);
    // The copy is made only while it can be kept.
    if (!shortStrings.full) shortStrings.keep(s, Uint8Array.prototype.slice.call(buf, pos, end));
    return end;
  }
  const n = Buffer.byteLength(s, "utf8");
  ensure(pos, 5 + n);
  pos = writeVarint(pos, n);
  return pos + buf.write(s, pos, n, "utf8");
}

/** A short string (SHORT_STRING units at most): its length fits the one byte written first. */
function writeShortString(s: string, pos: number): number {
  ensure(pos, 1 + s.length * 3);
  const start = pos + 1;
  let end = start;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      // Not ASCII: Buffer's own UTF-8 encoder writes the whole string.
      end = start + buf.write(s, start, "utf8");
      break;
    }
    buf[end++] = c;
  }
  buf[pos] = end - start;
  return end;
}

/** An int64 value as a number when it is a non-negative safe integer, else -1 (then BigInt does it). */
function safeNumber(v: unknown): number {
  // Number() of a bigint beyond 2^53 rounds to an integer that is not "safe".
  const n = Number(v as bigint);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

function writeVarintOf(pos: number, v: number): number {
  while (v >= 128) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/** Size of an unsigned varint below 2^32. */
function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function writeVarint(pos: number, v: number): number {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = v >>> 7;
  }
  buf[pos++] = v;
  return pos;
}

function writeVarint64(pos: number, v: bigint): number {
  while (v > 0x7fn) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

const zigzag32 = (v: number) => ((v << 1) ^ (v >> 31)) >>> 0;
const zigzag64 = (v: bigint) => BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
