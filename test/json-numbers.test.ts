// Numbers given as strings in JSON requests: proto3 JSON accepts decimal
// strings ("31", "1e1", "-0.5"; float/double also "NaN", "Infinity",
// "-Infinity") and nothing else that JavaScript's Number() or BigInt() would
// read ("0x1F", "0b11", "0o7", "+31", "031", "31.", ".5", padding). Checked as
// a function, then on the server: Connect unary JSON (the fast path when it is
// on), the same gzip-compressed (always connect-node), a batch, and a Connect
// JSON stream. Runs on both paths (vitest.config.ts).
import { gzipSync } from "node:zlib";
import { fromJsonString } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ImageHeaderSchema, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { findNonDecimalNumber } from "../src/codec/json-numbers.js";
import { postRaw, PREDICT_BATCH_PATH, PREDICT_PATH, VALID_JSON } from "./support/connect-json.js";
import { PREDICT_IMAGE_PATH } from "./support/image-streams.js";
import { grpcFrame, rawGrpc, serverWithSession } from "./support/raw-grpc.js";
import { API_KEY, startTestServer } from "./support/test-server.js";

const AUTH = { "x-api-key": API_KEY };
const valid = JSON.parse(VALID_JSON) as Record<string, unknown>;
/** The request with one field's JSON value replaced (raw JSON text, so escapes stay as sent). */
const withField = (field: string, rawValue: string) => JSON.stringify({ ...valid, [field]: "@@" }).replace('"@@"', rawValue);

// [field, raw JSON value]: not decimal, read as a number by protobuf-es today.
const NOT_DECIMAL: Array<[string, string]> = [
  ["age", '"0x1F"'],
  ["age", '"0X1f"'],
  ["age", '"0b100011"'],
  ["age", '"0o43"'],
  ["age", '"+35"'],
  ["age", '"035"'],
  ["age", '"35."'],
  ["age", '"\\u0030x23"'],
  ["income", '"0x10000"'],
  ["income", '".5e5"'],
  ["income", '"5.e4"'],
];
// Decimal strings, which proto3 JSON accepts.
const DECIMAL: Array<[string, string]> = [
  ["age", '"35"'],
  ["age", '"3.5e1"'],
  ["income", '"55000.5"'],
  ["income", '"5.5E4"'],
];

describe("findNonDecimalNumber", () => {
  it("names each non-decimal string a numeric field is given, and passes decimal ones and JSON numbers", () => {
    for (const [field, raw] of NOT_DECIMAL) {
      const text = withField(field, raw);
      // protobuf-es alone reads it as a number: the reason for the check.
      expect(() => fromJsonString(PredictRequestSchema, text), raw).not.toThrow();
      expect(findNonDecimalNumber(PredictRequestSchema, text), raw).toEqual({ field: field === "age" ? "age" : "income", value: JSON.parse(raw) });
    }
    for (const [field, raw] of DECIMAL) expect(findNonDecimalNumber(PredictRequestSchema, withField(field, raw)), raw).toBeUndefined();
    expect(findNonDecimalNumber(PredictRequestSchema, VALID_JSON)).toBeUndefined();
    // Strings of string fields are not numbers: "0x1F" as a model name is fine.
    expect(findNonDecimalNumber(PredictRequestSchema, JSON.stringify({ ...valid, modelName: "0x1F" }))).toBeUndefined();
  });

  it("float and double take NaN and Infinity; 64-bit integers take no padding or hex", () => {
    for (const word of ["NaN", "Infinity", "-Infinity"]) expect(findNonDecimalNumber(PredictRequestSchema, withField("income", `"${word}"`))).toBeUndefined();
    // protobuf-es itself refuses an integer "Infinity" or "", and padding for 32-bit fields.
    for (const raw of ['"Infinity"', '""', '" 35"']) expect(() => fromJsonString(PredictRequestSchema, withField("age", raw)), raw).toThrow();
    for (const raw of ['" 31"', '"31 "', '"\\t31"', '"0x1F"', '"+31"']) {
      expect(findNonDecimalNumber(ImageHeaderSchema, `{"id":"a","sizeBytes":${raw}}`), raw).toEqual({ field: "size_bytes", value: JSON.parse(raw) });
    }
    expect(findNonDecimalNumber(ImageHeaderSchema, '{"id":"a","sizeBytes":"31"}')).toBeUndefined();
  });
});

describe("through the server", () => {
  const live = serverWithSession(() => startTestServer());

  for (const gzip of [false, true]) {
    const send = (path: string, body: string) =>
      postRaw(live.server.baseUrl, path, gzip ? gzipSync(body) : body, gzip ? { ...AUTH, "content-encoding": "gzip" } : AUTH);
    const how = gzip ? "Connect JSON, gzip (connect-node)" : "Connect JSON";

    it(`${how}: each non-decimal string is 400 invalid_argument naming the field and the value`, async () => {
      for (const [field, raw] of NOT_DECIMAL) {
        const r = await send(PREDICT_PATH, withField(field, raw));
        expect(r.status, `${raw}: ${r.text}`).toBe(400);
        expect(r.json?.code).toBe("invalid_argument");
        expect(r.json?.message).toContain(field === "age" ? "age" : "income");
        expect(r.json?.message).toContain(JSON.stringify(JSON.parse(raw)));
      }
    });

    it(`${how}: decimal strings are read (3.5e1 is 35; 1e1 is 10, under age's minimum)`, async () => {
      for (const [field, raw] of DECIMAL) {
        const r = await send(PREDICT_PATH, withField(field, raw));
        expect(r.status, `${raw}: ${r.text}`).toBe(200);
      }
      const ten = await send(PREDICT_PATH, withField("age", '"1e1"'));
      expect(ten.status).toBe(400);
      expect(ten.json?.message).toMatch(/age/);
      expect(ten.json?.message).not.toMatch(/decimal/);
    });

    it(`${how}: a batch names the input`, async () => {
      const inputs = [valid, { ...valid, age: "0x1F" }];
      const r = await send(PREDICT_BATCH_PATH, JSON.stringify({ inputs }));
      expect(r.status, r.text).toBe(400);
      expect(r.json?.message).toContain("inputs[1].age");
    });
  }

  it("a Connect JSON stream: a hex top_k ends it invalid_argument naming header.top_k", async () => {
    const header = Buffer.from(JSON.stringify({ header: { id: "a", contentType: "image/png", topK: "0x5" } }));
    const r = await rawGrpc(live.session, {
      path: PREDICT_IMAGE_PATH,
      frames: [grpcFrame(header)],
      headers: { ...AUTH, "content-type": "application/connect+json" },
    });
    const text = r.body.toString("utf8");
    expect(text).toMatch(/"code":"invalid_argument"/);
    expect(text).toContain("header.top_k");
  });
});
