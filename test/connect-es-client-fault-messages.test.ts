// src/policy/client-faults.ts recognises connect-es's INTERNAL answers to a
// client's mistakes by how their messages begin. This drives a bare
// connect-node router (no rewrite) with each mistake and checks that
// connect-es still answers INTERNAL with those words, so the adapter fails
// here, not silently in production, when connect-es changes them; then checks
// that the same bytes get INVALID_ARGUMENT with the rewritten message from
// the server (FAST_PATH=0: every call through connect-node, where the adapter
// works; the fast path words these faults itself).
import type * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictionService, PredictRequestSchema, PredictResponseSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { CONNECT_ES_FAULT_PREFIXES, clientFaultMessage } from "../src/policy/client-faults.js";
import { VALID } from "./support/applications.js";
import { grpcFrame, h2cSession, rawGrpc } from "./support/raw-grpc.js";
import { type Cleanups, startRouteServer } from "./support/route-server.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const PREDICT_PATH = "/prediction.v1.PredictionService/Predict";
const VALID_BINARY = toBinary(PredictRequestSchema, create(PredictRequestSchema, VALID));
/** The first tag is field 536870911 with wire type 7, which does not exist. */
const GARBAGE_PROTOBUF = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x9a, 0x33, 0x01, 0xc4, 0x7e, 0x00, 0x12]);
const GZIPPED = gzipSync(VALID_BINARY);
/** A gzip stream cut in half: zlib reports the end of input, not corrupt data. */
const TRUNCATED_GZIP = GZIPPED.subarray(0, Math.floor(GZIPPED.length / 2));

const MISTAKES: Array<{ name: string; prefix: string; frame: Uint8Array; headers: Record<string, string> }> = [
  { name: "a message protobuf cannot parse", prefix: CONNECT_ES_FAULT_PREFIXES.parseBinary, frame: grpcFrame(GARBAGE_PROTOBUF), headers: {} },
  {
    name: "gzip cut short, with grpc-encoding gzip",
    prefix: CONNECT_ES_FAULT_PREFIXES.decompressionFailed,
    frame: grpcFrame(TRUNCATED_GZIP, { compressed: true }),
    headers: { "grpc-encoding": "gzip" },
  },
  {
    name: "the compressed flag with no grpc-encoding",
    prefix: CONNECT_ES_FAULT_PREFIXES.compressedWithoutEncoding,
    frame: grpcFrame(VALID_BINARY, { compressed: true }),
    headers: {},
  },
];

const cleanups: Cleanups = [];
let bare: http2.ClientHttp2Session;
let server: TestServer;
let ours: http2.ClientHttp2Session;

beforeAll(async () => {
  // connectNodeAdapter's defaults, gzip and brotli accepted; the handler is never reached.
  const address = await startRouteServer((router) => router.rpc(PredictionService.method.predict, () => create(PredictResponseSchema)), cleanups);
  bare = h2cSession(`http://${address}`);
  server = await startTestServer({ FAST_PATH: "0" });
  ours = h2cSession(server.baseUrl);
});
afterAll(async () => {
  bare?.close();
  ours?.close();
  await server?.close();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe("connect-es without the rewrite answers a client's mistake INTERNAL", () => {
  for (const { name, prefix, frame, headers } of MISTAKES) {
    it(`${name}: "${prefix}..."`, async () => {
      const r = await rawGrpc(bare, { path: PREDICT_PATH, frames: [frame], headers });
      expect(r.grpcStatus, r.grpcMessage).toBe(Code.Internal);
      expect(r.grpcMessage?.startsWith(prefix), r.grpcMessage).toBe(true);
    });
  }
});

describe("the server answers the same bytes INVALID_ARGUMENT, with the rewritten message", () => {
  for (const { name, frame, headers } of MISTAKES) {
    it(name, async () => {
      const raw = await rawGrpc(bare, { path: PREDICT_PATH, frames: [frame], headers });
      const rewritten = clientFaultMessage(raw.grpcMessage ?? "");
      expect(rewritten, raw.grpcMessage).toBeDefined();
      const r = await rawGrpc(ours, { path: PREDICT_PATH, frames: [frame], headers: { "x-api-key": API_KEY, ...headers } });
      expect(r.grpcStatus, r.grpcMessage).toBe(Code.InvalidArgument);
      expect(r.grpcMessage).toBe(rewritten);
    });
  }
});
