// Protobuf binary decoding for the requests the fast path takes, through a
// reader compiled per message type (as the binary encoder's writers are).
// protobuf-es 2.13's fromBinary still reads through reflection: a wrapper per
// message, a field lookup and a set() per field, the bytes through a generic
// BinaryReader. A request of many small messages (PredictBatch) pays that per
// row; the compiled reader reads a row with one switch (docs/design.md,
// "Compiled codecs and field rules").
//
// The compiled reader takes only the common, well-formed case: each field
// known, with the wire type the schema gives it, strings in ASCII, no message
// field given twice. Anything else (unknown fields, packed/unpacked variants,
// 64-bit and zigzag kinds, non-ASCII text, truncation, trailing bytes) makes
// it give up, and the bytes go to fromBinary, which then decides, with its own
// results and its own error messages. test/binary-decoder.test.ts checks the
// messages equal fromBinary's.
import { create, fromBinary, type DescField, type DescMessage, type Message, type MessageShape } from "@bufbuild/protobuf";
import { IMPLICIT, scalarKind, wireTypeOf, WRAPPERS, type Kind } from "./field-kinds.js";

export function decodeMessage<S extends DescMessage>(schema: S, bytes: Uint8Array): MessageShape<S> {
  const read = readerFor(schema);
  if (read !== undefined) {
    input = bytes;
    at = 0;
    try {
      const m = read(bytes.length);
      if (m !== undefined) return m as MessageShape<S>;
    } catch (e) {
      if (e !== GIVE_UP) throw e;
    } finally {
      input = EMPTY;
    }
  }
  return fromBinary(schema, bytes);
}

/** Whether decodeMessage() reads this type itself (otherwise fromBinary does). */
export function decodesItself(schema: DescMessage): boolean {
  return readerFor(schema) !== undefined;
}

type Reader = (end: number) => Message | undefined;

const EMPTY = new Uint8Array(0);
/** The bytes being read, and the position in them (module state: reading is synchronous). */
let input: Uint8Array = EMPTY;
let at = 0;
/** Thrown by the helpers when the input ends early: the caller hands the bytes to fromBinary. */
const GIVE_UP = Symbol("give up");

const readers = new WeakMap<DescMessage, Reader | null>();

/** Kinds read here; the rest (64-bit, zigzag, fixed) go to fromBinary. */
const READABLE = new Set<Kind>(["varint32", "uvarint32", "bool", "enum", "double", "float", "string", "bytes"]);

function readerFor(desc: DescMessage): Reader | undefined {
  const known = readers.get(desc);
  if (known !== undefined) return known ?? undefined;
  // Placeholder while compiling, so a recursive type does not recurse forever.
  readers.set(desc, null);
  const cases: string[] = [];
  const lists: string[] = [];
  const subs: Reader[] = [];
  for (const field of desc.fields) {
    const c = caseFor(field, subs, lists);
    if (c === undefined) return undefined;
    cases.push(c);
  }
  const template = create(desc);
  // Defaults kept on a prototype (explicit presence) would not survive the copy below.
  if (Object.getPrototypeOf(template) !== Object.prototype) return undefined;
  const source = [
    "return function read(end) {",
    "const m = { ...T };",
    ...lists,
    "while (H.at() < end) {",
    "switch (H.uvarint()) {",
    ...cases,
    "default: return undefined;",
    "}",
    "}",
    "return H.at() === end ? m : undefined;",
    "};",
  ].join("\n");
  const reader = new Function("H", "T", "S", source)(HELPERS, template, subs) as Reader;
  readers.set(desc, reader);
  return reader;
}

/** One `case <tag>:` of the reader's switch, or undefined when the field is not read here. */
function caseFor(field: DescField, subs: Reader[], lists: string[]): string | undefined {
  if (field.oneof !== undefined) return undefined;
  const name = JSON.stringify(field.localName);
  const tagOf = (wireType: number) => ((field.number << 3) | wireType) >>> 0;
  switch (field.fieldKind) {
    case "scalar":
    case "enum": {
      if (field.presence !== IMPLICIT) return undefined;
      const kind: Kind = field.fieldKind === "enum" ? "enum" : scalarKind(field.scalar);
      if (!READABLE.has(kind)) return undefined;
      return `case ${tagOf(wireTypeOf(kind))}: m[${name}] = H.${kind}(end); break;`;
    }
    case "message": {
      if (field.delimitedEncoding || WRAPPERS.has(field.message.typeName)) return undefined;
      const sub = readerFor(field.message);
      if (sub === undefined) return undefined;
      subs.push(sub);
      // A message field given twice is merged by fromBinary: left to it.
      return `case ${tagOf(2)}: { if (m[${name}] !== undefined) return undefined; const v = H.nested(S[${subs.length - 1}], end); if (v === undefined) return undefined; m[${name}] = v; break; }`;
    }
    case "list": {
      if (field.listKind !== "message" || field.delimitedEncoding || WRAPPERS.has(field.message.typeName)) return undefined;
      const sub = readerFor(field.message);
      if (sub === undefined) return undefined;
      subs.push(sub);
      lists.push(`m[${name}] = [];`);
      return `case ${tagOf(2)}: { const v = H.nested(S[${subs.length - 1}], end); if (v === undefined) return undefined; m[${name}].push(v); break; }`;
    }
    default:
      return undefined; // maps
  }
}

// A cast: Buffer's readers are typed for a Buffer `this`, but index it like any Uint8Array.
const { readDoubleLE, readFloatLE } = Buffer.prototype as unknown as {
  readDoubleLE(this: Uint8Array, at: number): number;
  readFloatLE(this: Uint8Array, at: number): number;
};

function byteAt(end: number): number {
  if (at >= end) throw GIVE_UP;
  return input[at++]!;
}

/** An unsigned varint below 2^32. */
function uvarint(end: number = input.length): number {
  let b = byteAt(end);
  if (b < 0x80) return b;
  let v = b & 0x7f;
  for (let shift = 7; shift < 35; shift += 7) {
    b = byteAt(end);
    v += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return v > 0xffffffff ? giveUp() : v;
  }
  return giveUp();
}

function giveUp(): never {
  throw GIVE_UP;
}

/** The length of a length-delimited field, checked against the end of its message. */
function lengthWithin(end: number): number {
  const n = uvarint(end);
  if (at + n > end) throw GIVE_UP;
  return n;
}

/** int32 and enums: a negative value is sent as ten bytes; left to fromBinary. */
function readInt32(end: number): number {
  const v = uvarint(end);
  return v > 0x7fffffff ? giveUp() : v;
}

const HELPERS = {
  at: () => at,
  uvarint: () => uvarint(),
  varint32: readInt32,
  enum: readInt32,
  uvarint32: (end: number) => uvarint(end),
  bool: (end: number) => {
    const v = uvarint(end);
    return v > 1 ? giveUp() : v === 1;
  },
  double: (end: number) => {
    if (at + 8 > end) throw GIVE_UP;
    const v = readDoubleLE.call(input, at);
    at += 8;
    return v;
  },
  float: (end: number) => {
    if (at + 4 > end) throw GIVE_UP;
    const v = readFloatLE.call(input, at);
    at += 4;
    return v;
  },
  string: (end: number) => {
    const n = lengthWithin(end);
    let s = "";
    for (let i = at; i < at + n; i++) {
      const c = input[i]!;
      // Not ASCII: fromBinary's UTF-8 rules decide.
      if (c >= 0x80) throw GIVE_UP;
      s += String.fromCharCode(c);
    }
    at += n;
    return s;
  },
  bytes: (end: number) => {
    const n = lengthWithin(end);
    // A view into the request, as fromBinary returns it.
    const v = input.subarray(at, at + n);
    at += n;
    return v;
  },
  nested: (read: Reader, end: number) => {
    const n = lengthWithin(end);
    return read(at + n);
  },
};
