// JSON Schemas for protobuf messages as the Connect protocol writes them in
// JSON (the proto3 JSON mapping): lowerCamel names, 64-bit integers as
// strings, bytes as base64, enums by name, well-known types in their special
// forms. Field comments become descriptions and field rules become keywords.
import { ScalarType, type DescEnum, type DescExtension, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { describe } from "./comments.js";
import { listKeywords, rulesOf, valueKeywords, type Rules } from "./field-rules.js";

export type JsonSchema = Record<string, unknown>;

export const ref = (typeName: string): JsonSchema => ({ $ref: `#/components/schemas/${typeName}` });

/** Collects the schema of each message reachable from the ones added, keyed by full name. */
export class SchemaSet {
  readonly schemas: Record<string, JsonSchema> = {};

  constructor(private readonly rulesExt: DescExtension | undefined) {}

  add(message: DescMessage): JsonSchema {
    const wkt = wellKnown(message);
    if (wkt) return wkt;
    if (!(message.typeName in this.schemas)) {
      this.schemas[message.typeName] = {}; // claimed first: a recursive type refers to itself
      this.schemas[message.typeName] = this.messageSchema(message);
    }
    return ref(message.typeName);
  }

  private messageSchema(message: DescMessage): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    for (const field of message.fields) {
      const schema = this.fieldSchema(field, rulesOf(field, this.rulesExt));
      const oneof = field.oneof ? `At most one of ${field.oneof.fields.map((f) => `\`${f.jsonName}\``).join(", ")} is set.` : undefined;
      const description = [describe(field), oneof, schema.description].filter(Boolean).join("\n\n");
      const example = field.fieldKind === "scalar" ? exampleFrom(describe(field), field.scalar === ScalarType.STRING) : undefined;
      properties[field.jsonName] = { ...schema, ...optional("description", description), ...(example !== undefined ? { examples: [example] } : {}) };
    }
    return { type: "object", ...optional("description", describe(message)), properties, additionalProperties: false };
  }

  private fieldSchema(field: DescField, rules: Rules): JsonSchema {
    switch (field.fieldKind) {
      case "scalar":
        return { ...scalarSchema(field.scalar, rules), ...valueKeywords(rules) };
      case "enum":
        return enumSchema(field.enum, rules);
      case "message":
        return this.add(field.message);
      case "list": {
        const items =
          field.listKind === "scalar" ? scalarSchema(field.scalar, {}) : field.listKind === "enum" ? enumSchema(field.enum, {}) : this.add(field.message);
        return { type: "array", items, ...listKeywords(rules) };
      }
      case "map": {
        const values =
          field.mapKind === "scalar" ? scalarSchema(field.scalar, {}) : field.mapKind === "enum" ? enumSchema(field.enum, {}) : this.add(field.message);
        return { type: "object", additionalProperties: values };
      }
    }
  }
}

function scalarSchema(scalar: ScalarType, rules: Rules): JsonSchema {
  switch (scalar) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      // proto3 JSON also accepts "NaN", "Infinity" and "-Infinity", unless the field must be finite.
      return rules.finite ? { type: "number" } : { type: ["number", "string"], format: scalar === ScalarType.FLOAT ? "float" : "double" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int32", minimum: 0 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      // Written as a decimal string (JSON numbers lose precision past 2^53); numbers are accepted too.
      return { type: ["string", "integer"], format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
  }
}

function enumSchema(e: DescEnum, rules: Rules): JsonSchema {
  // A rule that refuses the zero value leaves it out of the allowed names.
  const values = e.values.filter((v) => !(rules.defined_not_unspecified && v.number === 0));
  const lines = values.map((v) => `- \`${v.name}\`${describe(v) ? `: ${describe(v)!.replace(/\n/g, " ")}` : ""}`);
  return { type: "string", enum: values.map((v) => v.name), description: [describe(e), lines.join("\n")].filter(Boolean).join("\n\n") };
}

/** The JSON forms the mapping gives the well-known types the contract uses. */
function wellKnown(message: DescMessage): JsonSchema | undefined {
  switch (message.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time", description: "RFC 3339, UTC, e.g. `2026-01-02T15:04:05.123Z`." };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", description: "Seconds with an `s` suffix, e.g. `0.004200s`." };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    default:
      return undefined;
  }
}

/**
 * A scalar field's example, from its comment. A string: "" when the comment
 * says what empty means (the value a caller can send as is), else its first
 * `e.g. "..."`. A number: its first `e.g. <number>`. "Try it out" starts
 * from these instead of "string" or a bound, which need not make a valid
 * request when the rules relate two fields.
 */
function exampleFrom(comment: string | undefined, isString: boolean): string | number | undefined {
  if (!comment) return undefined;
  if (!isString) {
    const n = comment.match(/e\.g\.\s*(-?\d[\d_]*(?:\.\d+)?)/)?.[1];
    return n === undefined ? undefined : Number(n.replaceAll("_", ""));
  }
  if (/\bEmpty:/.test(comment)) return "";
  return comment.match(/e\.g\.\s*"([^"]*)"/)?.[1];
}

function optional(key: string, value: string | undefined): JsonSchema {
  return value ? { [key]: value } : {};
}
