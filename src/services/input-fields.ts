// The fields of a request message as GetModelMetadata describes them: type,
// unit and accepted values, taken from the rules the validation interceptor
// enforces (src/policy), so what clients are told and what is refused cannot
// disagree.
import { create, getOption, hasOption, ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { unit as unitOption } from "../../gen/prediction/v1/field_rules_pb.js";
import { InputFieldSchema, type InputField } from "../../gen/prediction/v1/prediction_service_pb.js";
import { enforcedRules, type EnforcedRules } from "../policy/field-violations.js";

// Descriptors never change while the server runs: each message is described once.
const described = new WeakMap<DescMessage, InputField[]>();

/** Every field of the message, in declaration order, with what the server accepts in it. */
export function inputFields(schema: DescMessage): InputField[] {
  let fields = described.get(schema);
  if (!fields) {
    const rules = enforcedRules(schema);
    fields = schema.fields.map((f) => inputField(f, rules.get(f)));
    described.set(schema, fields);
  }
  return fields;
}

function inputField(field: DescField, enforced: EnforcedRules | undefined): InputField {
  const r = enforced?.rules;
  // Of two lower (upper) bounds the tighter one decides; at equal values the exclusive one.
  const min = bound(r?.gte, r?.gt, (a, b) => a > b);
  const max = bound(r?.lte, r?.lt, (a, b) => a < b);
  return create(InputFieldSchema, {
    name: field.name,
    jsonName: field.jsonName,
    type: typeName(field),
    unit: hasOption(field, unitOption) ? getOption(field, unitOption) : "",
    min: min?.value,
    minExclusive: min?.exclusive ?? false,
    max: max?.value,
    maxExclusive: max?.exclusive ?? false,
    finite: r?.finite ?? false,
    allowedValues: field.fieldKind === "enum" ? field.enum.values.filter((v) => !(r?.definedNotUnspecified && v.number === 0)).map((v) => v.name) : [],
    minLength: r?.minLen,
    maxLength: r?.maxLen,
    crossFieldRule: enforced?.bound ? crossFieldRule(field, enforced.bound) : "",
  });
}

function bound(inclusive: number | undefined, exclusive: number | undefined, tighter: (a: number, b: number) => boolean) {
  if (exclusive !== undefined && (inclusive === undefined || !tighter(inclusive, exclusive))) return { value: exclusive, exclusive: true };
  return inclusive === undefined ? undefined : { value: inclusive, exclusive: false };
}

function typeName(field: DescField): string {
  switch (field.fieldKind) {
    case "scalar":
      return ScalarType[field.scalar].toLowerCase();
    case "enum":
      return field.enum.typeName;
    case "message":
      return field.message.typeName;
    case "list":
      return `repeated ${field.listKind === "scalar" ? ScalarType[field.scalar].toLowerCase() : (field.listKind === "enum" ? field.enum : field.message).typeName}`;
    case "map":
      return "map";
  }
}

/** An lte_field rule as a comparison, e.g. "employment_years <= age - 14". */
function crossFieldRule(field: DescField, { other, offset }: NonNullable<EnforcedRules["bound"]>): string {
  const plus = offset === 0 ? "" : offset < 0 ? ` - ${-offset}` : ` + ${offset}`;
  return `${field.name} <= ${other.name}${plus}`;
}
