// encodeJson() against protobuf-es's toJsonString, the reference: for random
// messages of every type in the contract, the text (or the error) must be the same.
import { create, toJsonString, type DescMessage } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ClassifyImageResponseSchema,
  PredictBatchResponseSchema,
  PredictImageResponseSchema,
  PredictResponseSchema,
} from "../gen/prediction/v1/prediction_service_pb.js";
import { encodeJson, writesJsonItself } from "../src/codec/json-encoder.js";
import { MESSAGES, randomMessage, rng } from "./support/random-messages.js";

function both(schema: DescMessage, message: never) {
  const outcome = (f: () => string) => {
    try {
      return { text: f() };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  return { expected: outcome(() => toJsonString(schema, message)), got: outcome(() => encodeJson(schema, message)) };
}

describe("encodeJson", () => {
  it("writes the fast path's answers itself, and leaves a type with a oneof to toJsonString", () => {
    for (const schema of [PredictResponseSchema, PredictBatchResponseSchema, ClassifyImageResponseSchema])
      expect(writesJsonItself(schema), schema.typeName).toBe(true);
    expect(writesJsonItself(PredictImageResponseSchema)).toBe(false);
  });

  it.each(MESSAGES.map((m) => [m.typeName, m] as const))("writes what toJsonString writes: %s", (_name, schema) => {
    const r = rng(schema.typeName.length * 7 + 13);
    for (let i = 0; i < 200; i++) {
      const message = randomMessage(schema, r);
      const { expected, got } = both(schema, message as never);
      expect(got, `${schema.typeName} #${i}`).toEqual(expected);
    }
  });

  it("writes timestamps with 0, 3, 6 or 9 fractional digits, and leaves one out of range to toJsonString's error", () => {
    for (const nanos of [0, 1, 120_000_000, 123_456_000, 123_456_789, 999_999_999]) {
      const m = create(PredictResponseSchema, { timestamp: { seconds: 1_764_400_000n, nanos } });
      expect(encodeJson(PredictResponseSchema, m)).toBe(toJsonString(PredictResponseSchema, m));
    }
    const bad = create(PredictResponseSchema, { timestamp: { seconds: 999_999_999_999n, nanos: 0 } });
    expect(both(PredictResponseSchema, bad as never).got).toEqual(both(PredictResponseSchema, bad as never).expected);
    expect(both(PredictResponseSchema, bad as never).got).toHaveProperty("error");
  });

  it("writes a time or a short string it has written before the same as toJsonString (by value, not by object)", () => {
    const times = [
      { seconds: 1_764_400_000n, nanos: 5_000_000 },
      { seconds: 1_764_400_000n, nanos: 5_000_000 },
      { seconds: 1_764_400_000n, nanos: 6_000_000 },
      { seconds: 1_764_400_001n, nanos: 6_000_000 },
      { seconds: 1_764_400_001n, nanos: 1_000_000_000 }, // out of range: toJsonString's error, not the last text
      { seconds: 1_764_400_001n, nanos: 6_000_000 },
    ];
    const names = ["loan-approval", "modèle-ü", 'quote " and \\ back', "", "x".repeat(42), "y".repeat(43)];
    for (let round = 0; round < 2; round++) {
      times.forEach((timestamp, i) => {
        const m = create(PredictResponseSchema, { timestamp, modelName: names[i % names.length], modelVersion: names[(i + round) % names.length] });
        expect(both(PredictResponseSchema, m as never).got, `#${i} round ${round}`).toEqual(both(PredictResponseSchema, m as never).expected);
      });
    }
  });
});
