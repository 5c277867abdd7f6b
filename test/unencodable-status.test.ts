// A status message gRPC cannot carry: connect-es percent-encodes
// grpc-message, which throws on text that is not well-formed UTF-16. V8's
// JSON.parse error quotes the client's text around the error and may cut an
// emoji's surrogate pair in two. The client still gets a status (not a reset
// stream), and the call is logged with it.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { httpPost, parseGrpcWeb } from "../bench/lib/grpc-wire.js";
import { grpcFrame, h2cSession, rawGrpc } from "./support/raw-grpc.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const CLASSIFY_PATH = "/prediction.v1.PredictionService/ClassifyImage";
// Found by the fuzz (seed 20261206, case 8659): the parse error's excerpt ends inside "😀".
const BODY = Buffer.from(`{"contentType":"😀","topK":Infinity,"modelName":"${"x".repeat(200)}","modelVersion":"a"}`);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

function expectLoggedOnce(requestId: string) {
  const lines = server.logs.filter((l) => l.requestId === requestId);
  expect(lines.map((l) => l.code)).toEqual(["INVALID_ARGUMENT"]);
  expect(server.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
}

it("gRPC-Web (JSON, HTTP/1.1): INVALID_ARGUMENT in the trailer frame", async () => {
  const headers = { "content-type": "application/grpc-web+json", "x-api-key": API_KEY, "x-request-id": "unencodable-web" };
  const r = await httpPost(server.port, CLASSIFY_PATH, grpcFrame(BODY), headers, 5_000);
  expect(r.error).toBeUndefined();
  expect(parseGrpcWeb(r).grpcStatus).toBe(Code.InvalidArgument);
  expectLoggedOnce("unencodable-web");
});

it("gRPC (JSON, HTTP/2): INVALID_ARGUMENT in the trailers, no reset", async () => {
  const session = h2cSession(server.baseUrl);
  try {
    const r = await rawGrpc(session, {
      path: CLASSIFY_PATH,
      frames: [grpcFrame(BODY)],
      headers: { "content-type": "application/grpc+json", "x-api-key": API_KEY, "x-request-id": "unencodable-grpc" },
      timeoutMs: 5_000,
    });
    expect(r.rstCode).toBe(0);
    expect(r.grpcStatus).toBe(Code.InvalidArgument);
    expectLoggedOnce("unencodable-grpc");
  } finally {
    session.close();
  }
});
