// gRPC-Web text mode (application/grpc-web-text) on the wire, by hand: a body
// that arrives in HTTP chunks split inside base64 groups, each piece padded
// on its own; malformed base64; a refusal; and a server stream through
// connect-node. Runs with the fast path on and off (vitest.config.ts).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import * as http from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { PredictRequestSchema, PredictResponseSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { VALID } from "./support/applications.js";
import { base64Pieces, decodeGroups } from "./support/grpc-web-text-fetch.js";
import { rpcStatusOf } from "./support/raw-http.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const PREDICT = "/prediction.v1.PredictionService/Predict";
const TEXT = { "content-type": "application/grpc-web-text", accept: "application/grpc-web-text", "x-grpc-web": "1" };

function frame(bytes: Uint8Array): Buffer {
  const f = Buffer.alloc(5 + bytes.length);
  f.writeUInt32BE(bytes.length, 1);
  f.set(bytes, 5);
  return f;
}

/** The length-prefixed frames of a decoded body. */
function frames(body: Buffer): Array<{ flags: number; data: Buffer }> {
  const out: Array<{ flags: number; data: Buffer }> = [];
  for (let i = 0; i + 5 <= body.length; i += 5 + body.readUInt32BE(i + 1))
    out.push({ flags: body[i]!, data: body.subarray(i + 5, i + 5 + body.readUInt32BE(i + 1)) });
  return out;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** POSTs `chunks` as separate HTTP/1.1 chunks, a moment apart; reads the answer until `until` says it has enough. */
function post(path: string, headers: Record<string, string>, chunks: string[], until?: (text: string) => boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.baseUrl}${path}`, { method: "POST", headers, agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      const parts: Buffer[] = [];
      const done = () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) });
        req.destroy();
      };
      res.on("data", (c: Buffer) => {
        parts.push(c);
        if (until?.(Buffer.concat(parts).toString("latin1"))) done();
      });
      res.on("end", done);
    });
    (async () => {
      for (const c of chunks) {
        req.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
      req.end();
    })().catch(reject);
  });
}

it("answers a body sent in chunks that split base64 groups, each piece padded on its own", async () => {
  const text = base64Pieces(frame(toBinary(PredictRequestSchema, create(PredictRequestSchema, VALID))), 5);
  expect(text.indexOf("=")).toBeLessThan(text.length - 2);
  const chunks = [text.slice(0, 3), text.slice(3, 13), text.slice(13, 14), text.slice(14)];
  const res = await post(PREDICT, { ...TEXT, "x-api-key": API_KEY }, chunks);
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toBe("application/grpc-web-text+proto");
  expect(res.body.toString("latin1")).toMatch(/^[A-Za-z0-9+/=]+$/);
  const [message, trailer] = frames(decodeGroups(res.body.toString("latin1")));
  expect(fromBinary(PredictResponseSchema, message!.data).modelName).toBe("loan-approval");
  expect(trailer!.flags & 0x80).toBe(0x80);
  expect(trailer!.data.toString("latin1")).toMatch(/grpc-status: ?0\r\n/);
});

it("answers a body that is not base64 with INVALID_ARGUMENT, in text mode", async () => {
  const res = await post(PREDICT, { ...TEXT, "x-api-key": API_KEY }, ["AAAA*AAA"]);
  expect(res.status).toBe(200);
  expect(rpcStatusOf("grpc-web", { ...res, trailers: {} }).code).toBe(Code.InvalidArgument);
  const all = JSON.stringify(res.headers) + decodeGroups(res.body.toString("latin1")).toString("latin1");
  expect(decodeURIComponent(all)).toContain("not base64");
});

it("refuses a call without a key with UNAUTHENTICATED, before reading the body", async () => {
  const res = await post(PREDICT, TEXT, [base64Pieces(frame(toBinary(PredictRequestSchema, create(PredictRequestSchema, VALID))), 64)]);
  expect(rpcStatusOf("grpc-web", { ...res, trailers: {} }).code).toBe(Code.Unauthenticated);
});

it("streams health Watch in text mode (connect-node, server streaming)", async () => {
  const req = base64Pieces(frame(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" }))), 64);
  // Watch never ends: stop at the first whole message.
  const res = await post("/grpc.health.v1.Health/Watch", TEXT, [req], (t) => t.length >= 12);
  expect(res.headers["content-type"]).toBe("application/grpc-web-text+proto");
  const [first] = frames(decodeGroups(res.body.toString("latin1")));
  expect(fromBinary(HealthCheckResponseSchema, first!.data).status).toBe(Serving.SERVING);
});

it("holds a text-mode message to the same size limit as a binary one, with the same answer", async () => {
  const small = await startTestServer({ MAX_MESSAGE_BYTES: "1024" });
  try {
    const big = frame(toBinary(PredictRequestSchema, create(PredictRequestSchema, { ...VALID, modelVersion: "9".repeat(3000) })));
    const auth = { "x-api-key": API_KEY, "x-grpc-web": "1" };
    const binary = await postTo(small.baseUrl, { ...auth, "content-type": "application/grpc-web+proto" }, big);
    const text = await postTo(small.baseUrl, { ...auth, "content-type": "application/grpc-web-text" }, base64Pieces(big, 512));
    const status = (r: Answer) =>
      rpcStatusOf("grpc-web", { ...r, trailers: {}, headers: { ...r.headers, "content-type": "application/grpc-web" }, body: binaryBody(r) });
    expect(status(binary).code).toBe(Code.ResourceExhausted);
    expect(status(text).code).toBe(Code.ResourceExhausted);
    expect(messageOf(text)).toBe(messageOf(binary));
  } finally {
    await small.close();
  }
});

/** One POST of a whole body to another server. */
function postTo(baseUrl: string, headers: Record<string, string>, body: Uint8Array | string): Promise<Answer> {
  return fetch(baseUrl + PREDICT, { method: "POST", headers, body: typeof body === "string" ? body : new Uint8Array(body) }).then(async (r) => ({
    status: r.status,
    headers: Object.fromEntries(r.headers),
    body: Buffer.from(await r.arrayBuffer()),
  }));
}

/** The body's frames as bytes: decoded from base64 in text mode. */
const binaryBody = (r: Answer) => (String(r.headers["content-type"]).includes("text") ? decodeGroups(r.body.toString("latin1")) : r.body);

/** grpc-message, from the headers or the trailer frame. */
function messageOf(r: Answer): string {
  const inHeaders = r.headers["grpc-message"];
  if (typeof inHeaders === "string") return decodeURIComponent(inHeaders);
  const trailer = frames(binaryBody(r)).find((f) => f.flags & 0x80);
  return decodeURIComponent(/grpc-message: ?(.*)\r\n/.exec(trailer?.data.toString("latin1") ?? "")?.[1] ?? "");
}
