// The per-connection limits (MAX_CONCURRENT_STREAMS, MAX_HEADER_BYTES,
// MAX_HEADERS) and Node's rapid-reset defence, on the real server with real
// sockets: library clients where they suffice, hand-written frames for what
// no library sends.
import * as http from "node:http";
import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictionService, PredictRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { VALID } from "./support/applications.js";
import { grpcJsClient } from "./support/grpc-js-client.js";
import { ERROR_CODE, FRAME, headerBlock, headersFrame, rawH2, rstStreamFrame } from "./support/raw-h2.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const PREDICT = "/prediction.v1.PredictionService/Predict";
const MAX_STREAMS = 3;
const MAX_HEADER_BYTES = 4096;
const MAX_HEADERS = 24;

/** A gRPC Predict's request headers, as HEADERS frames carry them. */
const grpcRequest = (extra: Record<string, string> = {}) =>
  headerBlock({
    ":method": "POST",
    ":scheme": "http",
    ":path": PREDICT,
    ":authority": "127.0.0.1",
    "content-type": "application/grpc",
    te: "trailers",
    "x-api-key": API_KEY,
    ...extra,
  });

/**
 * One h2c GET on a new session, once the server knows its SETTINGS were
 * acknowledged (a PING round trip after them): HTTP/2 applies a server's
 * header list limit from then on, and HTTP/2's default 64 KiB before.
 */
async function h2Get(baseUrl: string, headers: Record<string, string>): Promise<{ status: number; rstCode: number }> {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  await new Promise((r) => session.once("remoteSettings", r));
  await new Promise((r) => session.ping(r));
  return new Promise((resolve) => {
    const stream = session.request({ ":path": "/", ...headers });
    let status = 0;
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.on("error", () => {});
    stream.on("close", () => {
      resolve({ status, rstCode: stream.rstCode ?? 0 });
      session.close();
    });
    stream.resume();
  });
}

function h1Get(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", headers, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
  });
}

async function predictOk(server: TestServer): Promise<void> {
  const client = grpcJsClient(`127.0.0.1:${server.port}`);
  try {
    const r = await client.unary(PredictionService.method.predict, create(PredictRequestSchema, VALID), { metadata: { "x-api-key": API_KEY } });
    expect(r.error).toBeUndefined();
  } finally {
    client.close();
  }
}

describe(`MAX_CONCURRENT_STREAMS=${MAX_STREAMS}, MAX_HEADER_BYTES=${MAX_HEADER_BYTES}, MAX_HEADERS=${MAX_HEADERS}`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      MAX_CONCURRENT_STREAMS: String(MAX_STREAMS),
      MAX_HEADER_BYTES: String(MAX_HEADER_BYTES),
      MAX_HEADERS: String(MAX_HEADERS),
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("advertises the limits in its HTTP/2 SETTINGS", async () => {
    const session = http2.connect(server.baseUrl);
    try {
      await new Promise((r) => session.once("remoteSettings", r));
      expect(session.remoteSettings.maxConcurrentStreams).toBe(MAX_STREAMS);
      expect(session.remoteSettings.maxHeaderListSize).toBe(MAX_HEADER_BYTES);
    } finally {
      session.close();
    }
  });

  it("refuses streams past the limit with REFUSED_STREAM and serves the ones within it", async () => {
    const conn = await rawH2(server.port);
    try {
      // Five calls whose bodies never come: each holds its stream open.
      const ids = [1, 3, 5, 7, 9];
      await conn.write(Buffer.concat(ids.map((id) => headersFrame(id, grpcRequest(), false))));
      const deadline = Date.now() + 5000;
      const refused = () =>
        conn.frames.filter((f) => f.type === FRAME.RST_STREAM && f.payload.readUInt32BE(0) === ERROR_CODE.REFUSED_STREAM).map((f) => f.streamId);
      while (refused().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(refused()).toEqual([7, 9]);
    } finally {
      conn.socket.destroy();
    }
    await predictOk(server);
  });

  it("resets an HTTP/2 stream whose headers pass MAX_HEADER_BYTES, and answers HTTP/1.1 with 431", async () => {
    const big = { "x-big": "a".repeat(MAX_HEADER_BYTES + 100) };
    expect((await h2Get(server.baseUrl, big)).rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(await h1Get(server.port, big)).toBe(431);
    // Just under the limit is fine.
    expect((await h2Get(server.baseUrl, { "x-big": "a".repeat(MAX_HEADER_BYTES / 2) })).status).toBe(200);
  });

  it("resets an HTTP/2 stream with more than MAX_HEADERS fields", async () => {
    const many = Object.fromEntries(Array.from({ length: MAX_HEADERS + 1 }, (_, i) => [`x-field-${i}`, "v"]));
    expect((await h2Get(server.baseUrl, many)).rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect((await h2Get(server.baseUrl, { "x-one": "v" })).status).toBe(200);
  });
});

describe("rapid reset (CVE-2023-44487): HEADERS + RST_STREAM pairs on one connection", () => {
  const PAIRS = 20_000;
  const PAIRS_PER_WRITE = 500;
  // nghttp2 stops reading a session it sent GOAWAY for, but Node does not
  // close the socket: the idle timeout does, the session having no stream.
  const IDLE_MS = 1000;
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ IDLE_TIMEOUT_MS: String(IDLE_MS) });
  });
  afterAll(async () => {
    await server?.close();
  });

  it(`ends the session with GOAWAY long before ${PAIRS} pairs, with CPU and memory bounded, and keeps serving`, async () => {
    await predictOk(server);
    const conn = await rawH2(server.port);
    const rssBefore = process.memoryUsage().rss;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let sent = 0;
    const block = grpcRequest();
    let closed = false;
    void conn.closed.then(() => (closed = true));
    while (sent < PAIRS && !closed) {
      const pairs: Buffer[] = [];
      for (let i = 0; i < PAIRS_PER_WRITE; i++) {
        const id = 2 * (sent + i) + 1;
        pairs.push(headersFrame(id, block, true), rstStreamFrame(id, ERROR_CODE.CANCEL));
      }
      await conn.write(Buffer.concat(pairs));
      sent += PAIRS_PER_WRITE;
    }
    const goaway = await conn.goaway;
    const goawayAfterMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 1e6;
    const socketClosed = await Promise.race([conn.closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 3 * IDLE_MS))]);
    const closedAfterMs = performance.now() - started;
    console.log(
      `rapid reset: ${sent} pairs written; GOAWAY code ${goaway?.code}, last stream ${goaway?.lastStreamId}, after ${goawayAfterMs.toFixed(0)} ms; ` +
        `CPU ${cpuMs.toFixed(0)} ms to then (server and client in this process); RSS ${rssGrowthMb >= 0 ? "+" : ""}${rssGrowthMb.toFixed(1)} MB; ` +
        `socket closed by the server: ${socketClosed} (${closedAfterMs.toFixed(0)} ms)`,
    );
    conn.socket.destroy();
    // nghttp2's reset limit: GOAWAY(INTERNAL_ERROR) once the burst of resets is spent.
    expect(goaway?.code).toBe(ERROR_CODE.INTERNAL_ERROR);
    expect(goaway!.lastStreamId).toBeLessThan(2 * PAIRS);
    expect(socketClosed).toBe(true);
    expect(cpuMs).toBeLessThan(3000);
    expect(rssGrowthMb).toBeLessThan(100);
    await predictOk(server);
  });
});
