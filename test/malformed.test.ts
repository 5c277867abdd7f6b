// Malformed requests on every wire format: each gets a clean error, never a
// stack trace, its own call log line with that error's code (whether the fast
// path or connect-node refused it), and the server keeps serving afterwards.
import type * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictBatchRequestSchema, PredictionService, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { applications, VALID } from "./support/applications.js";
import { looksLikeStackTrace, postRaw, predictJson, PREDICT_BATCH_PATH, PREDICT_PATH, VALID_JSON, type RawReply } from "./support/connect-json.js";
import { grpcJsClient } from "./support/grpc-js-client.js";
import { grpcFrame, h2cSession, rawGrpc, type RawGrpcResult } from "./support/raw-grpc.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";
import { codeName } from "../src/policy/call-log.js";

const AUTH = { "x-api-key": API_KEY };
const VALID_BINARY = toBinary(PredictRequestSchema, create(PredictRequestSchema, VALID));

/**
 * Bytes no protobuf parser accepts, whatever the message: the first tag is
 * field 536870911 with wire type 7, which does not exist.
 */
const GARBAGE_PROTOBUF = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x9a, 0x33, 0x01, 0xc4, 0x7e, 0x00, 0x12]);
/** Field 1 (age) as varint, then a length-delimited field 2 claiming 100 bytes it does not have. */
const TRUNCATED_PROTOBUF = Uint8Array.from([0x08, 0x23, 0x12, 0x64, 0x01, 0x02]);

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** The newest call log line names the method and the code the client got. */
function expectLastCallLogged(code: string, on: TestServer = server, method = PREDICT_PATH) {
  const calls = on.logs.filter((l) => l.msg === "call");
  const last = calls[calls.length - 1];
  expect(last?.method, JSON.stringify(last)).toBe(method);
  expect(last?.code, JSON.stringify(last)).toBe(code);
}

function expectCleanConnectError(r: RawReply, status: number, code: string, on: TestServer = server, method = PREDICT_PATH) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^application\/json/);
  expect(r.json?.code, r.text).toBe(code);
  expect(typeof r.json?.message).toBe("string");
  expect(looksLikeStackTrace(r.text), r.text).toBe(false);
  expectLastCallLogged(code.toUpperCase(), on, method);
}

/** A valid Predict over Connect JSON still answers: the server survived. */
async function expectStillServing() {
  const r = await predictJson(server.baseUrl, AUTH);
  expect(r.status, r.text).toBe(200);
  expect(r.json?.decision).toMatch(/^DECISION_/);
}

describe("Connect JSON: malformed bodies are INVALID_ARGUMENT (HTTP 400)", () => {
  const valid = JSON.parse(VALID_JSON) as Record<string, unknown>;
  const cases: Array<[string, string]> = [
    ["invalid JSON", '{"age": 35, "income": '],
    ["not JSON at all", "age=35&income=55000"],
    ["a JSON array instead of an object", JSON.stringify([valid])],
    ["a JSON string instead of an object", JSON.stringify("hello")],
    ["a string where a number is expected (int32)", JSON.stringify({ ...valid, age: "thirty-five" })],
    ["a string where a number is expected (double)", JSON.stringify({ ...valid, income: "a lot" })],
    ["age 35.5, not an int32", JSON.stringify({ ...valid, age: 35.5 })],
    ["age beyond int32", JSON.stringify({ ...valid, age: 2 ** 31 })],
    ["an enum name that does not exist", JSON.stringify({ ...valid, loanPurpose: "LOAN_PURPOSE_YACHT" })],
  ];
  for (const [name, body] of cases) {
    it(name, async () => {
      const r = await postRaw(server.baseUrl, PREDICT_PATH, body, AUTH);
      expectCleanConnectError(r, 400, "invalid_argument");
      await expectStillServing();
    });
  }

  // connect-es would drop a misspelt field and score its default; the server turns that off.
  it("an unknown field", async () => {
    const r = await postRaw(server.baseUrl, PREDICT_PATH, JSON.stringify({ ...valid, creditScoreTypo: 700 }), AUTH);
    expectCleanConnectError(r, 400, "invalid_argument");
  });
});

describe("Connect binary (application/proto): unparseable bytes", () => {
  for (const [name, bytes] of [
    ["an illegal wire type", GARBAGE_PROTOBUF],
    ["a truncated length-delimited field", TRUNCATED_PROTOBUF],
  ] as const) {
    it(`${name}: a JSON error without internals, and the server keeps serving`, async () => {
      const r = await postRaw(server.baseUrl, PREDICT_PATH, bytes, { ...AUTH, "content-type": "application/proto" });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.json?.code, r.text).toBe("invalid_argument");
      expect(looksLikeStackTrace(r.text), r.text).toBe(false);
      expectLastCallLogged("INVALID_ARGUMENT");
      await expectStillServing();
    });
  }

  // connect-es calls every binary parse failure INTERNAL; src/transport/rpc-handler.ts corrects it.
  it("is HTTP 400 invalid_argument", async () => {
    const r = await postRaw(server.baseUrl, PREDICT_PATH, GARBAGE_PROTOBUF, { ...AUTH, "content-type": "application/proto" });
    expectCleanConnectError(r, 400, "invalid_argument");
  });
});

describe("gRPC over h2c, raw frames", () => {
  let session: http2.ClientHttp2Session;
  beforeAll(() => {
    session = h2cSession(server.baseUrl);
  });
  afterAll(() => {
    session?.close();
  });

  const call = (frames: Uint8Array[], headers: Record<string, string> = {}) =>
    rawGrpc(session, { path: PREDICT_PATH, frames, headers: { ...AUTH, ...headers } });

  /** A proper gRPC error response: HTTP 200, gRPC content type, a status in the trailers. */
  function expectGrpcError(r: RawGrpcResult) {
    expect(r.streamError).toBeUndefined();
    expect(r.rstCode).toBe(0);
    expect(r.httpStatus).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^application\/grpc/);
    expect(r.grpcStatus, JSON.stringify(r.trailers)).toBeDefined();
    expect(r.grpcStatus).not.toBe(0);
    expect(looksLikeStackTrace(r.grpcMessage ?? ""), r.grpcMessage).toBe(false);
    expectLastCallLogged(codeName(r.grpcStatus as Code));
  }

  it("the raw client itself works: a valid frame is OK", async () => {
    const r = await call([grpcFrame(VALID_BINARY)]);
    expect(r.grpcStatus, r.grpcMessage).toBe(0);
    expect(r.body.length).toBeGreaterThan(5);
  });

  it("garbage protobuf in a well-formed frame: an error status, and the connection stays usable", async () => {
    const r = await call([grpcFrame(GARBAGE_PROTOBUF)]);
    expectGrpcError(r);
    expect(r.grpcStatus).toBe(Code.InvalidArgument);
    const again = await call([grpcFrame(VALID_BINARY)]);
    expect(again.grpcStatus).toBe(0);
  });

  // grpc-go and grpc-java answer INTERNAL here; the contract promises INVALID_ARGUMENT.
  it("garbage protobuf is INVALID_ARGUMENT, with a message naming the problem", async () => {
    const r = await call([grpcFrame(GARBAGE_PROTOBUF)]);
    expect(r.grpcStatus).toBe(Code.InvalidArgument);
  });

  it("a truncated frame (declared length longer than sent, then end of stream): non-OK, connection still usable", async () => {
    const r = await call([grpcFrame(VALID_BINARY, { declaredLength: VALID_BINARY.length + 100 })]);
    expectGrpcError(r);
    const again = await call([grpcFrame(VALID_BINARY)]);
    expect(again.grpcStatus, again.grpcMessage).toBe(0);
  });

  it("a frame cut inside its 5-byte prefix: non-OK, connection still usable", async () => {
    const r = await call([grpcFrame(VALID_BINARY).subarray(0, 3)]);
    expectGrpcError(r);
    const again = await call([grpcFrame(VALID_BINARY)]);
    expect(again.grpcStatus).toBe(0);
  });

  it("the compressed flag set with no grpc-encoding: an error status", async () => {
    const r = await call([grpcFrame(VALID_BINARY, { compressed: true })]);
    expectGrpcError(r);
  });

  it("the compressed flag with grpc-encoding gzip but bytes that are not gzip: an error status", async () => {
    const r = await call([grpcFrame(VALID_BINARY, { compressed: true })], { "grpc-encoding": "gzip" });
    expectGrpcError(r);
  });

  it("two messages on a unary method: an error status", async () => {
    const r = await call([grpcFrame(VALID_BINARY), grpcFrame(VALID_BINARY)]);
    expectGrpcError(r);
  });

  it("no message at all on a unary method: an error status", async () => {
    const r = await call([]);
    expectGrpcError(r);
  });

  it("after all of that, the same h2 connection still serves a valid call", async () => {
    const r = await call([grpcFrame(VALID_BINARY)]);
    expect(r.grpcStatus).toBe(0);
  });
});

describe("gRPC-Web (HTTP/1.1): unparseable bytes in a well-formed frame", () => {
  it("is INVALID_ARGUMENT in the answer's status, and logged as such", async () => {
    const r = await postRaw(server.baseUrl, PREDICT_PATH, grpcFrame(GARBAGE_PROTOBUF), { ...AUTH, "content-type": "application/grpc-web+proto" });
    expect(r.status).toBe(200);
    // Trailers-only in the headers, or a trailer frame in the body: either way the status is 3.
    const status = r.headers.get("grpc-status") ?? /grpc-status:\s*(\d+)/i.exec(r.text)?.[1];
    expect(Number(status), r.text).toBe(Code.InvalidArgument);
    expectLastCallLogged("INVALID_ARGUMENT");
    await expectStillServing();
  });
});

describe("after every malformed request above", () => {
  it("a valid Predict over grpc-js (new connection) returns OK", async () => {
    const client = grpcJsClient(`127.0.0.1:${server.port}`);
    try {
      const r = await client.unary(PredictionService.method.predict, create(PredictRequestSchema, VALID), { metadata: AUTH });
      expect(r.error).toBeUndefined();
      expect(r.message?.modelName).toBe("loan-approval");
    } finally {
      client.close();
    }
  });

  it("no malformed request made the server log an error", () => {
    const errors = server.logs.filter((l) => Number(l.level) >= 50);
    expect(errors).toEqual([]);
  });
});

describe("a request over MAX_MESSAGE_BYTES", () => {
  const LIMIT = 2048;
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ MAX_MESSAGE_BYTES: String(LIMIT) });
  });
  afterAll(async () => {
    await small?.close();
  });

  const batch = (n: number) => create(PredictBatchRequestSchema, { inputs: applications(n) });
  // Sized from the encoding, not guessed: the largest batch under the limit and the smallest over it.
  const sizeOf = (n: number) => toBinary(PredictBatchRequestSchema, batch(n)).length;
  let under = 1;
  while (sizeOf(under + 1) <= LIMIT) under++;
  const over = under + 1;

  it("is RESOURCE_EXHAUSTED over gRPC (grpc-js), while one just under the limit works", async () => {
    expect(sizeOf(over)).toBeGreaterThan(LIMIT);
    const client = grpcJsClient(`127.0.0.1:${small.port}`);
    try {
      const ok = await client.unary(PredictionService.method.predictBatch, batch(under), { metadata: AUTH });
      expect(ok.error?.details).toBeUndefined();
      expect(ok.message?.predictions).toHaveLength(under);

      const big = await client.unary(PredictionService.method.predictBatch, batch(over), { metadata: AUTH });
      expect(big.message).toBeUndefined();
      expect(big.error?.code).toBe(Code.ResourceExhausted);
      expect(looksLikeStackTrace(big.error?.details ?? "")).toBe(false);

      const after = await client.unary(PredictionService.method.predict, create(PredictRequestSchema, VALID), { metadata: AUTH });
      expect(after.error).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it("is HTTP 429 resource_exhausted over Connect (binary and JSON)", async () => {
    const binary = await postRaw(small.baseUrl, PREDICT_BATCH_PATH, toBinary(PredictBatchRequestSchema, batch(over)), {
      ...AUTH,
      "content-type": "application/proto",
    });
    expectCleanConnectError(binary, 429, "resource_exhausted", small, PREDICT_BATCH_PATH);
    // The limit counts bytes on the wire: JSON is bigger, so fewer inputs fit.
    const json = JSON.stringify({ inputs: Array.from({ length: over }, () => JSON.parse(VALID_JSON)) });
    expect(json.length).toBeGreaterThan(LIMIT);
    const r = await postRaw(small.baseUrl, PREDICT_BATCH_PATH, json, AUTH);
    expectCleanConnectError(r, 429, "resource_exhausted", small, PREDICT_BATCH_PATH);
    const after = await predictJson(small.baseUrl, AUTH);
    expect(after.status).toBe(200);
  });
});
