// encodeMessage() against protobuf-es's toBinary, the reference: for random
// messages of every type in the contract (and the standard services it
// serves), the bytes must be the same.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ClassifyImageResponseSchema,
  PredictBatchResponseSchema,
  PredictImageResponseSchema,
  PredictResponseSchema,
} from "../gen/prediction/v1/prediction_service_pb.js";
import { encodeMessage, encodesItself } from "../src/codec/binary-encoder.js";
import { MESSAGES, randomMessage, rng } from "./support/random-messages.js";

describe("encodeMessage", () => {
  it("writes the fast path's answers itself, and leaves a type with a oneof to toBinary", () => {
    expect(MESSAGES.length).toBeGreaterThan(30);
    for (const schema of [PredictResponseSchema, PredictBatchResponseSchema, ClassifyImageResponseSchema])
      expect(encodesItself(schema), schema.typeName).toBe(true);
    expect(encodesItself(PredictImageResponseSchema)).toBe(false);
  });

  it.each(MESSAGES.map((m) => [m.typeName, m] as const))("writes the bytes toBinary writes: %s", (_name, schema) => {
    const r = rng(schema.typeName.length * 7919);
    for (let i = 0; i < 200; i++) {
      const message = randomMessage(schema, r);
      const expected = toBinary(schema, message);
      const got = encodeMessage(schema, message);
      expect(Buffer.from(got).equals(Buffer.from(expected)), `${schema.typeName} #${i}`).toBe(true);
    }
  });

  it("leaves the reserved prefix to the caller and writes the message after it", () => {
    const message = randomMessage(PredictResponseSchema, rng(1));
    const out = encodeMessage(PredictResponseSchema, message, 5);
    expect(out.subarray(5).equals(Buffer.from(toBinary(PredictResponseSchema, message)))).toBe(true);
  });

  it("grows its buffer for a message larger than it, and still writes the same bytes", () => {
    const r = rng(7);
    const big = create(PredictBatchResponseSchema, { predictions: Array.from({ length: 700 }, () => randomMessage(PredictResponseSchema, r)) });
    const expected = Buffer.from(toBinary(PredictBatchResponseSchema, big));
    expect(expected.length).toBeGreaterThan(64 * 1024);
    expect(encodeMessage(PredictBatchResponseSchema, big, 5).subarray(5).equals(expected)).toBe(true);
    // And a small one after it, from the grown buffer.
    const small = randomMessage(PredictResponseSchema, r);
    expect(encodeMessage(PredictResponseSchema, small).equals(Buffer.from(toBinary(PredictResponseSchema, small)))).toBe(true);
  });

  it("writes a short string it has written before (kept as written) the same as toBinary, ASCII or not", () => {
    const names = ["loan-approval", "modèle-ü", "模型", "", "x".repeat(42), "y".repeat(43)];
    for (let round = 0; round < 3; round++) {
      for (const modelName of names) {
        const message = create(PredictResponseSchema, { modelName, modelVersion: modelName.slice(0, 3), probability: round });
        expect(encodeMessage(PredictResponseSchema, message).equals(Buffer.from(toBinary(PredictResponseSchema, message))), `${modelName} round ${round}`).toBe(
          true,
        );
      }
    }
  });

  it("keeps unknown fields, as toBinary does", () => {
    const known = toBinary(PredictResponseSchema, create(PredictResponseSchema, { probability: 0.5, modelName: "m" }));
    // Field 99, varint 1: unknown to PredictResponse.
    const withUnknown = fromBinary(PredictResponseSchema, Buffer.concat([known, Buffer.from([0x98, 0x06, 0x01])]));
    const batch = create(PredictBatchResponseSchema, { predictions: [withUnknown] });
    expect(Buffer.from(encodeMessage(PredictBatchResponseSchema, batch)).equals(Buffer.from(toBinary(PredictBatchResponseSchema, batch)))).toBe(true);
    expect(toBinary(PredictBatchResponseSchema, batch).length).toBeGreaterThan(known.length + 3);
  });
});
