// The OpenAPI document buf generates (plugins/protoc-gen-openapi.ts) says
// what the contract says: every unary method, every field rule as its JSON
// Schema keyword, the Connect error with its BadRequest detail, and the key.
import { getOption, hasOption, type DescMessage } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { rules as rulesExtension } from "../gen/prediction/v1/field_rules_pb.js";
import { PredictionService } from "../gen/prediction/v1/prediction_service_pb.js";

const doc = JSON.parse(readFileSync("gen/openapi/prediction.v1.openapi.json", "utf8"));
const schemaOf = (typeName: string) => doc.components.schemas[typeName];

describe("the generated OpenAPI document", () => {
  it("is OpenAPI 3.1 with one POST per unary PredictionService method, needing the key", () => {
    expect(doc.openapi).toBe("3.1.0");
    const unary = PredictionService.methods.filter((m) => m.methodKind === "unary");
    for (const method of unary) {
      const op = doc.paths[`/${PredictionService.typeName}/${method.name}`]?.post;
      expect(op, method.name).toBeDefined();
      expect(op.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
      expect(op.requestBody.content["application/json"].schema.$ref).toBe(`#/components/schemas/${method.input.typeName}`);
      expect(op.responses["200"].content["application/json"].schema.$ref).toBe(`#/components/schemas/${method.output.typeName}`);
      expect(op.responses["400"].$ref).toBe("#/components/responses/400");
      expect(op.description).toBeTruthy();
    }
    // Streaming methods have no plain-JSON endpoint.
    expect(doc.paths[`/${PredictionService.typeName}/PredictImage`]).toBeUndefined();
    // Health needs no key.
    expect(doc.paths["/grpc.health.v1.Health/Check"].post.security).toEqual([]);
    expect(doc.components.securitySchemes.apiKey).toEqual(expect.objectContaining({ type: "apiKey", in: "header", name: "x-api-key" }));
  });

  it("carries every field rule of every request as its JSON Schema keyword", () => {
    let checked = 0;
    const seen = new Set<DescMessage>();
    const visit = (message: DescMessage) => {
      if (seen.has(message) || message.typeName.startsWith("google.protobuf.")) return;
      seen.add(message);
      const schema = schemaOf(message.typeName);
      expect(schema, message.typeName).toBeDefined();
      for (const field of message.fields) {
        const prop = schema.properties[field.jsonName];
        expect(prop, `${message.typeName}.${field.name}`).toBeDefined();
        if (field.message) visit(field.message);
        if (!hasOption(field, rulesExtension)) continue;
        const r = getOption(field, rulesExtension);
        const want: Record<string, unknown> = {};
        if (r.gte !== undefined) want.minimum = r.gte;
        if (r.gt !== undefined) want.exclusiveMinimum = r.gt;
        if (r.lte !== undefined) want.maximum = r.lte;
        if (r.lt !== undefined) want.exclusiveMaximum = r.lt;
        if (r.minLen !== undefined) want.minLength = r.minLen;
        if (r.maxLen !== undefined) want.maxLength = r.maxLen;
        if (r.minItems !== undefined) want.minItems = r.minItems;
        if (r.maxItems !== undefined) want.maxItems = r.maxItems;
        if (r.finite) want.type = "number";
        if (r.definedNotUnspecified && field.fieldKind === "enum") want.enum = field.enum.values.filter((v) => v.number !== 0).map((v) => v.name);
        expect(prop, `${message.typeName}.${field.name}`).toMatchObject(want);
        checked++;
      }
    };
    for (const method of PredictionService.methods.filter((m) => m.methodKind === "unary")) visit(method.input);
    expect(checked).toBeGreaterThanOrEqual(10);
    // Spelled out once, as a person reads it.
    expect(schemaOf("prediction.v1.PredictRequest").properties.age).toMatchObject({ type: "integer", minimum: 18, maximum: 120 });
    expect(schemaOf("prediction.v1.PredictRequest").properties.income).toMatchObject({ type: "number", minimum: 1 });
  });

  it("writes fields in the proto3 JSON mapping, with the proto comments", () => {
    const req = schemaOf("prediction.v1.PredictRequest");
    expect(Object.keys(req.properties)).toContain("creditScore");
    expect(req.properties.creditScore.description).toContain("FICO credit score");
    expect(schemaOf("prediction.v1.ClassifyImageRequest").properties.image).toMatchObject({ type: "string", contentEncoding: "base64" });
    expect(schemaOf("prediction.v1.PredictResponse").properties.timestamp).toMatchObject({ type: "string", format: "date-time" });
    const int64 = schemaOf("prediction.v1.TensorMetadata").properties.shape.items;
    expect(int64.type).toContain("string");
  });

  it("describes the Connect error with its google.rpc.BadRequest detail", () => {
    const error = schemaOf("connect.Error");
    expect(error.properties.code.enum).toContain("invalid_argument");
    expect(error.properties.details.items.properties.debug.$ref).toBe("#/components/schemas/google.rpc.BadRequest");
    expect(schemaOf("google.rpc.BadRequest.FieldViolation").properties).toHaveProperty("field");
    expect(doc.components.responses["400"].content["application/json"].schema.$ref).toBe("#/components/schemas/connect.Error");
  });

  it("has no dangling $ref", () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(schemas|responses)\/([^"]+)"/g)];
    expect(refs.length).toBeGreaterThan(20);
    for (const [, kind, name] of refs) expect(doc.components[kind][name], `${kind}/${name}`).toBeDefined();
  });
});
