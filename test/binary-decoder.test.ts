// decodeMessage() against protobuf-es's fromBinary, the reference: for the
// bytes of random messages of every type, whole, cut short, or with extra
// fields, the result (message or error) must be fromBinary's.
import { fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  ClassifyImageRequestSchema,
  PredictBatchRequestSchema,
  PredictImageResponseSchema,
  PredictRequestSchema,
} from "../gen/prediction/v1/prediction_service_pb.js";
import { decodeMessage, decodesItself } from "../src/codec/binary-decoder.js";
import { MESSAGES, randomMessage, rng } from "./support/random-messages.js";

/** fromBinary's outcome and decodeMessage's, as comparable values. */
function both(schema: DescMessage, bytes: Uint8Array) {
  const outcome = (f: () => unknown) => {
    try {
      return { message: f() };
    } catch (e) {
      return { error: String((e as Error).message) };
    }
  };
  return { expected: outcome(() => fromBinary(schema, bytes)), got: outcome(() => decodeMessage(schema, bytes)) };
}

describe("decodeMessage", () => {
  it("reads the fast path's requests itself, and leaves other types to fromBinary", () => {
    for (const schema of [PredictRequestSchema, PredictBatchRequestSchema, ClassifyImageRequestSchema])
      expect(decodesItself(schema), schema.typeName).toBe(true);
    expect(decodesItself(PredictImageResponseSchema)).toBe(false); // a oneof
  });

  it.each(MESSAGES.map((m) => [m.typeName, m] as const))("gives what fromBinary gives: %s", (_name, schema) => {
    const r = rng(schema.typeName.length * 104729);
    for (let i = 0; i < 150; i++) {
      const bytes = toBinary(schema, randomMessage(schema, r));
      const { expected, got } = both(schema, bytes);
      expect(got, `${schema.typeName} #${i}`).toEqual(expected);
      // Cut short at a random point: a message or an error, as fromBinary decides.
      const cut = bytes.subarray(0, Math.floor(r() * bytes.length));
      const short = both(schema, cut);
      expect(short.got, `${schema.typeName} #${i} cut at ${cut.length}`).toEqual(short.expected);
    }
  });

  it("keeps unknown fields and merges a message field given twice, as fromBinary does", () => {
    const row = toBinary(PredictRequestSchema, randomMessage(PredictRequestSchema, rng(3)));
    const unknown = Buffer.concat([row, Buffer.from([0x98, 0x06, 0x2a])]); // field 99 = 42
    expect(both(PredictRequestSchema, unknown).got).toEqual(both(PredictRequestSchema, unknown).expected);
    expect((decodeMessage(PredictRequestSchema, unknown) as { $unknown?: unknown[] }).$unknown).toHaveLength(1);
    // A negative int32 (ten bytes) and an enum value the schema does not name.
    const odd = Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x30, 0x63]);
    expect(both(PredictRequestSchema, odd).got).toEqual(both(PredictRequestSchema, odd).expected);
    expect(decodeMessage(PredictRequestSchema, odd)).toMatchObject({ age: -1, loanPurpose: 99 });
  });

  it("returns a batch's rows in order, each a fresh message", () => {
    const r = rng(11);
    const batch = randomMessage(PredictBatchRequestSchema, r);
    batch.inputs = Array.from({ length: 100 }, () => randomMessage(PredictRequestSchema, r));
    const decoded = decodeMessage(PredictBatchRequestSchema, toBinary(PredictBatchRequestSchema, batch));
    expect(decoded).toEqual(fromBinary(PredictBatchRequestSchema, toBinary(PredictBatchRequestSchema, batch)));
    decoded.inputs[0]!.age = 12345;
    expect(decoded.inputs[1]!.age).not.toBe(12345);
    expect(decodeMessage(PredictBatchRequestSchema, new Uint8Array(0)).inputs).not.toBe(decoded.inputs);
  });
});
