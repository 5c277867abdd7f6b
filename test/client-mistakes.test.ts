// What a client can get wrong on the wire - bad frames, compression it did
// not declare or could not finish, an unknown encoding, bad base64, a reset
// mid-upload - on every protocol: each is answered (and logged, and counted)
// with a code of the client's own, never INTERNAL or UNKNOWN, which mean a
// fault of the server (docs/errors.md). Runs on both paths (vitest.config.ts).
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PredictImageRequestSchema, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { codeName } from "../src/policy/call-log.js";
import { VALID } from "./support/applications.js";
import { postRaw, PREDICT_PATH } from "./support/connect-json.js";
import { PREDICT_IMAGE_PATH } from "./support/image-streams.js";
import { grpcFrame, rawGrpc, serverWithSession } from "./support/raw-grpc.js";
import { API_KEY, startTestServer } from "./support/test-server.js";

const AUTH = { "x-api-key": API_KEY };
const CLASSIFY_PATH = "/prediction.v1.PredictionService/ClassifyImage";
const VALID_BINARY = toBinary(PredictRequestSchema, create(PredictRequestSchema, VALID));
const GZIPPED = gzipSync(VALID_BINARY);
/** A gzip stream cut in half: it ends before its last block and its trailer. */
const TRUNCATED_GZIP = GZIPPED.subarray(0, Math.floor(GZIPPED.length / 2));
/** Starts like gzip (magic number, deflate) and then is not. */
const GARBAGE_GZIP = Buffer.concat([GZIPPED.subarray(0, 10), Buffer.alloc(24, 0xff)]);
const LEVEL_ERROR = 50;

const live = serverWithSession(() => startTestServer());

/** The newest call line for `method`. */
function lastCall(method = PREDICT_PATH) {
  return live.server.logs.filter((l) => l.msg === "call" && l.method === method).at(-1);
}

async function waitForCall(count: number, method: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (live.server.logs.filter((l) => l.msg === "call" && l.method === method).length < count && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("gRPC (h2c)", () => {
  const cases: Array<[string, Uint8Array[], Record<string, string>, Code]> = [
    ["the compressed flag with no grpc-encoding", [grpcFrame(VALID_BINARY, { compressed: true })], {}, Code.InvalidArgument],
    ["the compressed flag with grpc-encoding identity", [grpcFrame(VALID_BINARY, { compressed: true })], { "grpc-encoding": "identity" }, Code.InvalidArgument],
    ["gzip cut short", [grpcFrame(TRUNCATED_GZIP, { compressed: true })], { "grpc-encoding": "gzip" }, Code.InvalidArgument],
    ["gzip that is garbage", [grpcFrame(GARBAGE_GZIP, { compressed: true })], { "grpc-encoding": "gzip" }, Code.InvalidArgument],
    // gRPC's status code table: compression the server does not support is UNIMPLEMENTED.
    ["an encoding the server does not support", [grpcFrame(GZIPPED, { compressed: true })], { "grpc-encoding": "snappy" }, Code.Unimplemented],
    ["a frame longer than the body", [grpcFrame(VALID_BINARY, { declaredLength: VALID_BINARY.length + 100 })], {}, Code.InvalidArgument],
  ];
  for (const [name, frames, headers, code] of cases) {
    it(`${name}: ${codeName(code)}`, async () => {
      const r = await rawGrpc(live.session, { path: PREDICT_PATH, frames, headers: { ...AUTH, ...headers } });
      expect(r.grpcStatus, r.grpcMessage).toBe(code);
      expect(lastCall()?.code).toBe(codeName(code));
    });
  }

  it("a reset mid-upload is logged CANCELLED", async () => {
    const before = live.server.logs.filter((l) => l.msg === "call" && l.method === PREDICT_PATH).length;
    const stream = live.session.request({ ":method": "POST", ":path": PREDICT_PATH, "content-type": "application/grpc", te: "trailers", ...AUTH });
    stream.on("error", () => {});
    const frame = grpcFrame(VALID_BINARY);
    stream.write(frame.subarray(0, 8));
    await new Promise((r) => setTimeout(r, 50));
    const closed = new Promise((r) => stream.once("close", r));
    stream.destroy();
    await closed;
    await waitForCall(before + 1, PREDICT_PATH);
    expect(lastCall()?.code).toBe("CANCELLED");
  });
});

describe("gRPC-Web (HTTP/1.1)", () => {
  const grpcWebStatus = (r: { headers: Headers; text: string }) => Number(r.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/i.exec(r.text)?.[1]);
  const cases: Array<[string, Uint8Array, Record<string, string>, Code]> = [
    ["the compressed flag with no grpc-encoding", grpcFrame(VALID_BINARY, { compressed: true }), {}, Code.InvalidArgument],
    ["gzip cut short", grpcFrame(TRUNCATED_GZIP, { compressed: true }), { "grpc-encoding": "gzip" }, Code.InvalidArgument],
  ];
  for (const [name, body, headers, code] of cases) {
    it(`${name}: ${codeName(code)}`, async () => {
      const r = await postRaw(live.server.baseUrl, PREDICT_PATH, body, { ...AUTH, "content-type": "application/grpc-web+proto", ...headers });
      expect(grpcWebStatus(r), r.text).toBe(code);
      expect(lastCall()?.code).toBe(codeName(code));
    });
  }
});

describe("Connect (HTTP/1.1)", () => {
  it("a unary body whose gzip is cut short: 400 invalid_argument", async () => {
    const r = await postRaw(live.server.baseUrl, PREDICT_PATH, TRUNCATED_GZIP, { ...AUTH, "content-type": "application/proto", "content-encoding": "gzip" });
    expect(r.status, r.text).toBe(400);
    expect(r.json?.code).toBe("invalid_argument");
    expect(lastCall()?.code).toBe("INVALID_ARGUMENT");
  });

  it("bytes that are not base64 in JSON: 400 invalid_argument naming the field", async () => {
    const r = await postRaw(live.server.baseUrl, CLASSIFY_PATH, JSON.stringify({ image: "not*base64!" }), AUTH);
    expect(r.status, r.text).toBe(400);
    expect(r.json?.code).toBe("invalid_argument");
    expect(r.json?.message).toContain("image");
    expect(lastCall(CLASSIFY_PATH)?.code).toBe("INVALID_ARGUMENT");
  });
});

describe("Connect streaming (HTTP/2)", () => {
  it("an envelope with the compressed flag and no connect-content-encoding: invalid_argument", async () => {
    const header = toBinary(
      PredictImageRequestSchema,
      create(PredictImageRequestSchema, { kind: { case: "header", value: { id: "a", contentType: "image/png" } } }),
    );
    // The same envelope layout as gRPC's: flag byte, length, message.
    const r = await rawGrpc(live.session, {
      path: PREDICT_IMAGE_PATH,
      frames: [grpcFrame(header, { compressed: true })],
      headers: { ...AUTH, "content-type": "application/connect+proto" },
    });
    expect(r.body.toString("utf8")).toMatch(/"code":"invalid_argument"/);
    expect(lastCall(PREDICT_IMAGE_PATH)?.code).toBe("INVALID_ARGUMENT");
  });
});

describe("after all of the above", () => {
  it("no line was logged at level error (no client mistake is a server fault)", () => {
    const errors = live.server.logs.filter((l) => Number(l.level) >= LEVEL_ERROR);
    expect(errors.map((l) => `${l.msg} ${l.method} ${l.code ?? ""} ${l.error ?? ""}`)).toEqual([]);
  });
});
