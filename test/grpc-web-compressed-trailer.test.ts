// A gRPC-Web call sent gzip-compressed is answered gzip-compressed, and
// connect-node then compresses the trailer frame too once it passes 1 KiB
// (a long grpc-message does). The server still reads that trailer (to log and
// correct the call's status) and the client still gets its status.
import { gzipSync } from "node:zlib";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PredictBatchRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { httpPost, parseGrpcWeb } from "../bench/lib/grpc-wire.js";
import { splitFrames } from "./support/grpc-frames.js";
import { PREDICT_BATCH_PATH } from "./support/connect-json.js";
import { grpcFrame } from "./support/raw-grpc.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

// Thirty applicants aged 5: thirty violations, a grpc-message well over 1 KiB.
const TOO_YOUNG = create(PredictBatchRequestSchema, {
  inputs: Array.from({ length: 30 }, () => ({ age: 5, income: 1000, creditScore: 700, employmentYears: 1, loanAmount: 100, loanPurpose: 1 })),
});

it("answers INVALID_ARGUMENT with an uncompressed trailer frame, and logs the call with that code", async () => {
  const body = grpcFrame(gzipSync(toBinary(PredictBatchRequestSchema, TOO_YOUNG)), { compressed: true });
  const headers = { "content-type": "application/grpc-web+proto", "grpc-encoding": "gzip", "x-api-key": API_KEY, "x-request-id": "long-trailer" };
  const r = await httpPost(server.port, PREDICT_BATCH_PATH, body, headers, 5_000);
  expect(r.error).toBeUndefined();
  expect(r.status).toBe(200);
  const trailer = splitFrames(r.body).find((f) => f.flags & 0x80);
  expect(trailer?.flags).toBe(0x80);
  const status = parseGrpcWeb(r);
  expect(status.grpcStatus, status.grpcMessage).toBe(Code.InvalidArgument);
  expect(decodeURIComponent(status.grpcMessage ?? "").length).toBeGreaterThan(1024);
  const logged = server.logs.find((l) => l.requestId === "long-trailer");
  expect(logged?.code).toBe("INVALID_ARGUMENT");
});
