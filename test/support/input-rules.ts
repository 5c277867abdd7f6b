// What GetModelMetadata must say about each field of a request message, read
// here straight from the contract's options (not through the server's code),
// as the proto3 JSON of InputField: the oracle for the metadata tests.
import { getOption, hasOption, ScalarType, type DescMessage, type JsonObject } from "@bufbuild/protobuf";
import { rules as rulesOption, unit as unitOption } from "../../gen/prediction/v1/field_rules_pb.js";

export function inputFieldsFromRules(schema: DescMessage): JsonObject[] {
  return schema.fields.map((f) => {
    const r = hasOption(f, rulesOption) ? getOption(f, rulesOption) : undefined;
    const out: JsonObject = { name: f.name, jsonName: f.jsonName };
    out.type = f.fieldKind === "scalar" ? ScalarType[f.scalar].toLowerCase() : f.fieldKind === "enum" ? f.enum.typeName : f.fieldKind;
    if (hasOption(f, unitOption)) out.unit = getOption(f, unitOption);
    // No request of the contract sets both gte and gt, or both lte and lt.
    if (r?.gte !== undefined) out.min = r.gte;
    if (r?.gt !== undefined) Object.assign(out, { min: r.gt, minExclusive: true });
    if (r?.lte !== undefined) out.max = r.lte;
    if (r?.lt !== undefined) Object.assign(out, { max: r.lt, maxExclusive: true });
    if (r?.finite) out.finite = true;
    if (f.fieldKind === "enum") out.allowedValues = f.enum.values.filter((v) => !(r?.definedNotUnspecified && v.number === 0)).map((v) => v.name);
    if (r?.minLen !== undefined) out.minLength = r.minLen;
    if (r?.maxLen !== undefined) out.maxLength = r.maxLen;
    if (r?.lteField) {
      const o = r.lteField.offset;
      out.crossFieldRule = `${f.name} <= ${r.lteField.field}${o === 0 ? "" : o < 0 ? ` - ${-o}` : ` + ${o}`}`;
    }
    return out;
  });
}
