// The seven kinds of body the fuzz sends, each a function of a seeded random
// source: random bytes, mutated protobuf, mutated JSON, bad frames, the
// compressed flag, truncated gzip and huge varints. Each returns the body's
// pieces (written in order) and the headers that go with it.
import { gzipSync } from "node:zlib";
import { toBinary, toJsonString } from "@bufbuild/protobuf";
import { grpcFrame } from "../test/support/raw-grpc.js";
import { randomMessage } from "../test/support/random-messages.js";
import { int, mutateBytes, mutateJson, pick, randomBytes, type Rand } from "./mutate.js";
import { contentType, encodingHeader, isEnveloped, type Codec, type FuzzPath, type FuzzProtocol } from "./targets.js";

export interface Body {
  pieces: Uint8Array[];
  headers: Record<string, string>;
}

export interface Target {
  protocol: FuzzProtocol;
  path: FuzzPath;
}

type Generator = (t: Target, r: Rand) => Body;

const utf8 = (s: string) => Buffer.from(s, "utf8");
const validProto = (t: Target, r: Rand) => toBinary(t.path.schema, randomMessage(t.path.schema, r));
const validJson = (t: Target, r: Rand) => toJsonString(t.path.schema, randomMessage(t.path.schema, r));

/** The body as its protocol sends it: enveloped (one frame per message) or bare. */
function body(t: Target, codec: Codec, messages: Uint8Array[], headers: Record<string, string> = {}): Body {
  const enveloped = isEnveloped(t.protocol, t.path.streaming);
  return {
    pieces: enveloped ? messages.map((m) => grpcFrame(m)) : [Buffer.concat(messages)],
    headers: { "content-type": contentType(t.protocol, codec, t.path.streaming), ...headers },
  };
}

/** One message, or on a streaming procedure one to three. */
const count = (t: Target, r: Rand) => (t.path.streaming ? 1 + int(r, 3) : 1);

const random: Generator = (t, r) => {
  const bytes = randomBytes(r, int(r, 600));
  // Half the time the bytes are the whole body, framing included.
  if (r() < 0.5) return { pieces: [bytes], headers: { "content-type": contentType(t.protocol, pick(r, ["proto", "json"]), t.path.streaming) } };
  return body(t, "proto", [bytes]);
};

const mutatedProtobuf: Generator = (t, r) =>
  body(
    t,
    "proto",
    Array.from({ length: count(t, r) }, () => mutateBytes(validProto(t, r), r)),
  );

const mutatedJson: Generator = (t, r) =>
  body(
    t,
    "json",
    Array.from({ length: count(t, r) }, () => utf8(mutateJson(validJson(t, r), r))),
  );

/** Envelopes that lie: about their length, their flags, or how many there are. */
const badFrames: Generator = (t, r) => {
  const payload = validProto(t, r);
  const frame = grpcFrame(payload);
  const ct = { "content-type": contentType(t.protocol, "proto", t.path.streaming) };
  const pieces: Uint8Array[][] = [
    [grpcFrame(payload, { declaredLength: payload.length + 1 + int(r, 1000) })],
    [grpcFrame(payload, { declaredLength: Math.max(0, payload.length - 1 - int(r, 4)) })],
    [grpcFrame(payload, { declaredLength: 0xffffffff })],
    [frame.subarray(0, 1 + int(r, 4))],
    [frame, frame],
    [],
    [grpcFrame(new Uint8Array(0)), frame],
    [Buffer.concat([Buffer.from([pick(r, [0x02, 0x04, 0x7f, 0x80, 0x81, 0xff])]), frame.subarray(1)])],
    [frame, randomBytes(r, 1 + int(r, 6))],
    // Valid, but one byte per write: the reader must reassemble.
    Array.from(frame, (b) => Uint8Array.of(b)),
  ];
  return { pieces: pick(r, pieces), headers: ct };
};

let bomb: Buffer | undefined;
/** 64 MiB of zeros, gzipped (~64 KiB): over every message limit once inflated. */
const gzipBomb = () => (bomb ??= gzipSync(Buffer.alloc(64 << 20)));

/** The compressed flag (or a compressed body) with an encoding that is missing, wrong, unknown or a bomb. */
const compressedFlag: Generator = (t, r) => {
  const payload = validProto(t, r);
  const ct = contentType(t.protocol, "proto", t.path.streaming);
  const enc = encodingHeader(t.protocol, t.path.streaming);
  const enveloped = isEnveloped(t.protocol, t.path.streaming);
  const wrap = (bytes: Uint8Array, compressed: boolean) => (enveloped ? grpcFrame(bytes, { compressed }) : bytes);
  const variants: Array<[Uint8Array, Record<string, string>]> = [
    [wrap(payload, true), {}],
    [wrap(payload, true), { [enc]: "identity" }],
    [wrap(payload, true), { [enc]: "gzip" }],
    [wrap(payload, true), { [enc]: pick(r, ["br", "snappy", "deflate", "x-unknown", ""]) }],
    [wrap(gzipSync(payload), true), { [enc]: "gzip" }],
    [wrap(gzipSync(payload), false), { [enc]: "gzip" }],
    [wrap(gzipBomb(), true), { [enc]: "gzip" }],
  ];
  const [bytes, headers] = pick(r, variants);
  return { pieces: [bytes], headers: { "content-type": ct, ...headers } };
};

/** A gzipped message cut short, or with its trailer (CRC, length) damaged. */
const truncatedGzip: Generator = (t, r) => {
  const gz = gzipSync(validProto(t, r));
  const cut = r() < 0.75 ? gz.subarray(0, int(r, gz.length)) : Buffer.concat([gz.subarray(0, gz.length - 4), randomBytes(r, 4)]);
  const enveloped = isEnveloped(t.protocol, t.path.streaming);
  return {
    pieces: [enveloped ? grpcFrame(cut, { compressed: true }) : cut],
    headers: { "content-type": contentType(t.protocol, "proto", t.path.streaming), [encodingHeader(t.protocol, t.path.streaming)]: "gzip" },
  };
};

/** A protobuf varint of any size, including ones no 64-bit reader can hold. */
function varint(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return out;
}

/** A valid message with one field whose varint (tag, value or length) is overlong or out of range. */
const hugeVarints: Generator = (t, r) => {
  const prefix = Array.from(validProto(t, r));
  const field = t.path.schema.fields.length > 0 ? pick(r, t.path.schema.fields).number : 1;
  const tag = (wireType: number) => varint(BigInt((field << 3) | wireType));
  const variants: number[][] = [
    [...tag(0), ...Array<number>(10 + int(r, 6)).fill(0xff), 0x01],
    [...tag(0), ...varint(2n ** 64n - 1n)],
    [...tag(0), ...varint(2n ** 70n)],
    [...tag(2), ...varint(2n ** 32n + BigInt(int(r, 100))), 0x01, 0x02],
    [...tag(2), ...varint(2n ** 63n), 0x01],
    [...varint((2n ** 29n) << 3n), 0x01],
    [...varint(2n ** 40n), 0x01],
    [...tag(2), 0xff, 0xff, 0xff, 0xff, 0x07, ...Array<number>(8).fill(0x80)],
  ];
  const tail = pick(r, variants);
  const bytes = Uint8Array.from(r() < 0.5 ? [...prefix, ...tail] : [...tail, ...prefix]);
  return body(t, "proto", [bytes]);
};

export const GENERATORS = {
  random,
  "mutated-protobuf": mutatedProtobuf,
  "mutated-json": mutatedJson,
  "bad-frames": badFrames,
  "compressed-flag": compressedFlag,
  "truncated-gzip": truncatedGzip,
  "huge-varints": hugeVarints,
} satisfies Record<string, Generator>;

export type GeneratorName = keyof typeof GENERATORS;
export const GENERATOR_NAMES = Object.keys(GENERATORS) as GeneratorName[];
