// Random messages of any type, from its descriptor, for the codec tests:
// every field kind, defaults and extremes, nested and repeated messages, and
// a seeded generator so a failure can be replayed.
import { create, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { file_google_protobuf_duration, file_google_protobuf_timestamp } from "@bufbuild/protobuf/wkt";
import { file_grpc_health_v1_health } from "../../gen/grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { file_prediction_v1_prediction_service } from "../../gen/prediction/v1/prediction_service_pb.js";

const FILES = [
  file_prediction_v1_prediction_service,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
  file_google_protobuf_timestamp,
  file_google_protobuf_duration,
];

/** Every message type of the contract and of the standard services it serves. */
export const MESSAGES: DescMessage[] = FILES.flatMap((f) =>
  f.messages.flatMap(function all(m): DescMessage[] {
    return [m, ...m.nestedMessages.flatMap(all)];
  }),
);

/** A small seeded generator, so a failure can be replayed. */
export function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STRINGS = ["", "a", "loan-approval", "décision ✓ 決定", "x".repeat(200), "\u0000\uffff", "😀", "lone \ud800 high", "lone \udc00 low", "end \ud83d"];

function randomScalar(t: ScalarType, r: () => number): unknown {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  switch (t) {
    case ScalarType.DOUBLE:
      return pick([0, -0, 1.5, -2.25, 1e300, Number.NaN, Number.POSITIVE_INFINITY, r()]);
    case ScalarType.FLOAT:
      return pick([0, 0.5, -3, Math.fround(r())]);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick([0, 1, -1, 127, 128, 300, -2147483648, 2147483647, Math.floor(r() * 1e6)]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick([0, 1, 127, 128, 16384, 4294967295, Math.floor(r() * 1e9)]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick([0n, 1n, -1n, 1700000000n, -9223372036854775808n, 9223372036854775807n]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick([0n, 1n, 128n, 18446744073709551615n]);
    case ScalarType.BOOL:
      return r() < 0.5;
    case ScalarType.STRING:
      return pick(STRINGS);
    case ScalarType.BYTES:
      return pick([new Uint8Array(0), new Uint8Array([0, 255, 7]), new Uint8Array(300).fill(9)]);
  }
}

function randomValue(field: DescField, r: () => number, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return randomScalar(field.scalar, r);
    case "enum":
      return field.enum.values[Math.floor(r() * field.enum.values.length)]!.number;
    case "message":
      return depth > 3 || r() < 0.3 ? undefined : randomMessage(field.message, r, depth + 1);
    case "list": {
      const n = depth > 3 ? 0 : Math.floor(r() * 4);
      return Array.from({ length: n }, () =>
        field.listKind === "message"
          ? randomMessage(field.message, r, depth + 1)
          : field.listKind === "enum"
            ? field.enum.values[0]!.number
            : randomScalar(field.scalar, r),
      );
    }
    case "map":
      return {};
  }
}

export function randomMessage<S extends DescMessage>(schema: S, r: () => number, depth = 0): MessageShape<S> {
  const init: Record<string, unknown> = {};
  for (const field of schema.fields) {
    if (field.oneof) continue;
    if (r() < 0.25) continue; // left at its default
    const v = randomValue(field, r, depth);
    if (v !== undefined) init[field.localName] = v;
  }
  for (const oneof of schema.oneofs) {
    const field = oneof.fields[Math.floor(r() * oneof.fields.length)]!;
    const v = randomValue(field, r, depth);
    if (v !== undefined) init[oneof.localName] = { case: field.localName, value: v };
  }
  return create(schema, init as never) as MessageShape<S>;
}
