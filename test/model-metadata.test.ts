// What a client needs to use each model, through the real server on every
// protocol the metadata tests use: GetModelMetadata and ListModels describe
// the request each model answers with exactly the contract's field rules,
// the server's image limits and the card's headline metrics; and the server
// accepts and refuses at the bounds it describes.
import { type DescMessage, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClassifyImageRequestSchema,
  GetModelMetadataResponseSchema,
  InputFieldSchema,
  PredictionService,
  PredictRequestSchema,
  type GetModelMetadataResponse,
  type InputField,
} from "../gen/prediction/v1/prediction_service_pb.js";
import { VALID } from "./support/applications.js";
import { inputFieldsFromRules } from "./support/input-rules.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const headers = { "x-api-key": API_KEY };
// Not the defaults, so the answer shows the configured limits.
const MAX_IMAGE_BYTES = 3 * 1024 * 1024;
const MAX_IMAGE_PIXELS = 5_000_000;

const REQUESTS: Record<string, DescMessage> = { "loan-approval": PredictRequestSchema, shapes: ClassifyImageRequestSchema };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES), MAX_IMAGE_PIXELS: String(MAX_IMAGE_PIXELS) });
});
afterAll(async () => {
  await server?.close();
});

const PROTOCOLS: Array<[string, (baseUrl: string) => Transport]> = [
  ["gRPC", (baseUrl) => createGrpcTransport({ baseUrl })],
  ["gRPC-Web", (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
  ["Connect JSON", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" })],
  ["Connect binary GET", (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, useHttpGet: true })],
];

describe.each(PROTOCOLS)("over %s", (_name, transport) => {
  let client: Client<typeof PredictionService>;
  beforeAll(() => {
    client = createClient(PredictionService, transport(server.baseUrl));
  });

  it.each(Object.entries(REQUESTS))("GetModelMetadata(%s) gives its request's fields with exactly the contract's rules", async (model, request) => {
    const meta = await client.getModelMetadata({ name: model }, { headers });
    expect(meta.requestMessage).toBe(request.typeName);
    expect(meta.inputFields.map((f) => toJson(InputFieldSchema, f))).toEqual(inputFieldsFromRules(request));
  });

  it("GetModelMetadata gives the image limits the server enforces, and the card's headline metrics", async () => {
    const shapes = await client.getModelMetadata({ name: "shapes" }, { headers });
    expect(shapes.imageInput).toMatchObject({
      contentTypes: ["image/jpeg", "image/png", "image/webp"],
      maxBytes: BigInt(MAX_IMAGE_BYTES),
      maxPixels: BigInt(MAX_IMAGE_PIXELS),
    });
    expect(shapes.headlineMetrics).toEqual(["val_in_range_accuracy", "val_reject_flagged"]);
    const loan = await client.getModelMetadata({ name: "loan-approval" }, { headers });
    expect(loan.headlineMetrics).toEqual(["test_accuracy", "test_roc_auc", "test_calibration_error"]);
    for (const m of [shapes, loan]) for (const key of m.headlineMetrics) expect(m.metrics[key], key).toBeGreaterThanOrEqual(0);
  });

  it("ListModels gives, for each model, the same metadata as GetModelMetadata", async () => {
    const list = await client.listModels({}, { headers });
    expect(list.metadata.map((m) => m.model?.name)).toEqual(list.models.map((m) => m.name));
    for (const listed of list.metadata) {
      const one = await client.getModelMetadata({ name: listed.model?.name ?? "" }, { headers });
      expect(json(listed)).toEqual(json(one));
    }
    const loan = list.metadata.find((m) => m.model?.name === "loan-approval");
    expect(loan?.inputFields.map((f) => f.name)).toEqual(["age", "income", "credit_score", "employment_years", "loan_amount", "loan_purpose", "model_version"]);
  });
});

const json = (m: GetModelMetadataResponse) => toJson(GetModelMetadataResponseSchema, m);

describe("the loan model's described ranges", () => {
  const client = () => createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));

  it("are the ones a client expects: units, bounds, allowed purposes, the age rule", async () => {
    const meta = await client().getModelMetadata({ name: "loan-approval" }, { headers });
    const byName = Object.fromEntries(meta.inputFields.map((f) => [f.name, f]));
    expect(byName.age).toMatchObject({ jsonName: "age", type: "int32", unit: "years", min: 18, minExclusive: false, max: 120, maxExclusive: false });
    expect(byName.income).toMatchObject({ unit: "USD", min: 1, max: 1e9, finite: true });
    expect(byName.credit_score).toMatchObject({ unit: "points", min: 300, max: 850 });
    expect(byName.employment_years).toMatchObject({
      jsonName: "employmentYears",
      unit: "years",
      min: 0,
      max: 80,
      crossFieldRule: "employment_years <= age - 14",
    });
    expect(byName.loan_amount).toMatchObject({ unit: "USD", min: 0, minExclusive: true, max: 1e9, maxExclusive: false });
    expect(byName.loan_purpose).toMatchObject({
      type: "prediction.v1.LoanPurpose",
      allowedValues: ["LOAN_PURPOSE_HOME", "LOAN_PURPOSE_CAR", "LOAN_PURPOSE_EDUCATION", "LOAN_PURPOSE_PERSONAL"],
    });
    expect(byName.model_version).toMatchObject({ type: "string", maxLength: 32 });
    expect(byName.model_version.min).toBeUndefined();
  });

  it("are where Predict accepts and refuses", async () => {
    const meta = await client().getModelMetadata({ name: "loan-approval" }, { headers });
    // Old enough and new enough in the job that only the probed field can break a rule.
    const base = { ...VALID, age: 120, employmentYears: 0 };
    const outcome = (name: string, application: typeof base) =>
      client()
        .predict(application, { headers })
        .then(
          () => "accepted",
          (e) => {
            const err = ConnectError.from(e);
            return err.code === Code.InvalidArgument && err.rawMessage.includes(name) ? "refused" : err.message;
          },
        );
    const at = (f: InputField, value: number) => outcome(f.name, { ...base, [f.jsonName]: value });
    for (const f of meta.inputFields) {
      if (f.min !== undefined) {
        expect(await at(f, f.minExclusive ? f.min + 0.5 : f.min), `${f.name} at min`).toBe("accepted");
        expect(await at(f, f.minExclusive ? f.min : f.min - 1), `${f.name} below min`).toBe("refused");
      }
      if (f.max !== undefined) {
        expect(await at(f, f.maxExclusive ? f.max - 0.5 : f.max), `${f.name} at max`).toBe("accepted");
        expect(await at(f, f.maxExclusive ? f.max : f.max + 1), `${f.name} above max`).toBe("refused");
      }
    }
    // The cross-field rule at its edge: employment_years <= age - 14.
    expect(await outcome("employment_years", { ...base, age: 20, employmentYears: 6 })).toBe("accepted");
    expect(await outcome("employment_years", { ...base, age: 20, employmentYears: 6.5 })).toBe("refused");
  });
});
