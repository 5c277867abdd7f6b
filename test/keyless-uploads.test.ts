// Keyless uploads cost the server nothing: 48 concurrent 14 MB ClassifyImage
// calls without a key, on each protocol that can carry that much, are each
// answered UNAUTHENTICATED while the client is still sending, and the server
// process's resident memory rises by less than 64 MB. Run on both paths
// (FAST_PATH=1 and 0, see vitest.config.ts); the server runs in a process of
// its own so that its memory is all that is measured.
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClassifyImageRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { startChildServer, type ChildServer } from "./support/child-server.js";
import { grpcFrame } from "./support/raw-grpc.js";
import { rpcStatusOf, type HttpVersion, type RpcProtocol } from "./support/raw-http.js";
import { upload } from "./support/uploads.js";

const CALLS = 48;
const BODY_BYTES = 14_000_000;
const MAX_RSS_RISE = 64 * 1024 * 1024;
const PATH = "/prediction.v1.PredictionService/ClassifyImage";
const MB = 1024 * 1024;

const image = (bytes: number) => create(ClassifyImageRequestSchema, { image: new Uint8Array(bytes).fill(0x5a), contentType: "image/png" });
const proto = toBinary(ClassifyImageRequestSchema, image(BODY_BYTES - 16));
// Base64 makes the image 4/3 larger in JSON.
const json = Buffer.from(toJsonString(ClassifyImageRequestSchema, image(Math.floor(((BODY_BYTES - 64) * 3) / 4))));

const PROTOCOLS: Array<{ name: string; version: HttpVersion; protocol: RpcProtocol; headers: Record<string, string>; body: Uint8Array }> = [
  { name: "gRPC (HTTP/2)", version: "2", protocol: "grpc", headers: { "content-type": "application/grpc", te: "trailers" }, body: grpcFrame(proto) },
  { name: "Connect proto (HTTP/1.1)", version: "1.1", protocol: "connect", headers: { "content-type": "application/proto" }, body: proto },
  { name: "Connect JSON (HTTP/2)", version: "2", protocol: "connect", headers: { "content-type": "application/json" }, body: json },
  { name: "gRPC-Web (HTTP/1.1)", version: "1.1", protocol: "grpc-web", headers: { "content-type": "application/grpc-web+proto" }, body: grpcFrame(proto) },
];

let server: ChildServer;
beforeAll(async () => {
  // One process (WORKERS=1): the one whose memory is read.
  server = await startChildServer({ API_KEYS: "upload-test-key", MODEL_REPOSITORY: "./models", WORKERS: "1", FAST_PATH: process.env.FAST_PATH ?? "1" });
}, 90_000);
afterAll(async () => {
  await server?.stop();
});

describe.each(PROTOCOLS)("$name", ({ version, protocol, headers, body }) => {
  it(`${CALLS} concurrent keyless ${BODY_BYTES / 1e6} MB uploads are each refused mid-upload, and RSS rises < 64 MB`, async () => {
    expect(body.length).toBeGreaterThan(BODY_BYTES - 100);
    // Warm the protocol's code and connection handling first, so the baseline holds them.
    await Promise.all([0, 1, 2, 3].map(() => upload(server.baseUrl, version, PATH, headers, body.subarray(0, 1 << 20))));
    const baseline = server.rss();
    server.resetPeak();
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: CALLS }, () => upload(server.baseUrl, version, PATH, headers, body)));
    const wallMs = performance.now() - started;
    const rise = server.peakRss() - baseline;
    const answerMs = results.map((r) => r.answerMs).sort((a, b) => a - b);
    const sent = results.map((r) => r.sentAtAnswer).sort((a, b) => a - b);
    console.info(
      `${protocol} HTTP/${version}: RSS ${(baseline / MB).toFixed(1)} MB, peak +${(rise / MB).toFixed(1)} MB; answers after ${answerMs[0]!.toFixed(0)}-${answerMs[CALLS - 1]!.toFixed(0)} ms ` +
        `(median ${answerMs[CALLS >> 1]!.toFixed(0)} ms), ${(sent[CALLS - 1]! / MB).toFixed(2)} MB at most of ${(body.length / MB).toFixed(1)} MB sent by then; all done in ${wallMs.toFixed(0)} ms`,
    );
    for (const r of results) {
      expect(rpcStatusOf(protocol, r.response).code, r.response.body.toString().slice(0, 200)).toBe(Code.Unauthenticated);
      // Answered while the client was still writing its body.
      expect(r.sentAtAnswer).toBeLessThan(body.length);
    }
    expect(rise, `peak RSS rose ${(rise / MB).toFixed(1)} MB`).toBeLessThan(MAX_RSS_RISE);
  }, 120_000);
});
