// What the codecs need to know of a protobuf-es field descriptor: its value
// kind, wire type, and whether protobuf-es represents it in a way the codecs
// here do not write or read themselves.
import { ScalarType } from "@bufbuild/protobuf";

export type Kind =
  | "varint32"
  | "uvarint32"
  | "sint32"
  | "bool"
  | "enum"
  | "int64"
  | "uint64"
  | "sint64"
  | "double"
  | "float"
  | "fixed32"
  | "sfixed32"
  | "fixed64"
  | "sfixed64"
  | "string"
  | "bytes";

/** google.protobuf.FeatureSet.FieldPresence.IMPLICIT: proto3 scalars without `optional`. */
export const IMPLICIT = 2;

/** Wrapper types, which protobuf-es unwraps to plain values in messages. */
export const WRAPPERS = new Set(["Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes"].map((t) => `google.protobuf.${t}Value`));

export function scalarKind(t: ScalarType): Kind {
  switch (t) {
    case ScalarType.INT32:
      return "varint32";
    case ScalarType.UINT32:
      return "uvarint32";
    case ScalarType.SINT32:
      return "sint32";
    case ScalarType.BOOL:
      return "bool";
    case ScalarType.INT64:
      return "int64";
    case ScalarType.UINT64:
      return "uint64";
    case ScalarType.SINT64:
      return "sint64";
    case ScalarType.DOUBLE:
      return "double";
    case ScalarType.FLOAT:
      return "float";
    case ScalarType.FIXED32:
      return "fixed32";
    case ScalarType.SFIXED32:
      return "sfixed32";
    case ScalarType.FIXED64:
      return "fixed64";
    case ScalarType.SFIXED64:
      return "sfixed64";
    case ScalarType.STRING:
      return "string";
    case ScalarType.BYTES:
      return "bytes";
  }
}

export function wireTypeOf(kind: Kind): number {
  switch (kind) {
    case "double":
    case "fixed64":
    case "sfixed64":
      return 1;
    case "float":
    case "fixed32":
    case "sfixed32":
      return 5;
    case "string":
    case "bytes":
      return 2;
    default:
      return 0;
  }
}

/**
 * JavaScript condition, over a value `v`, under which protobuf-es writes a
 * field with implicit presence (binary and JSON alike): the value is not the
 * default. `enumZero` is an enum's first value.
 */
export function setCondition(kind: Kind, enumZero = 0): string {
  switch (kind) {
    case "enum":
      return `v !== ${enumZero}`;
    case "string":
      return `v !== ""`;
    case "bytes":
      return "v.length !== 0";
    case "bool":
      return "v !== false";
    case "int64":
    case "uint64":
    case "sint64":
    case "fixed64":
    case "sfixed64":
      return `v !== 0n && v !== "0"`;
    case "double":
    case "float":
      return "!Object.is(v, 0)";
    default:
      return "v !== 0";
  }
}
