// A client that cancels a PredictImage stream mid-way, while answers are being
// computed and written: the call is logged and counted as CANCELLED, never as
// INTERNAL or UNKNOWN, and no error-level line is written (it is not our fault).
// Real clients cancel: grpc-js call.cancel(), a Connect client's
// AbortController (gRPC and Connect protocols), and a bare HTTP/2 RST_STREAM.
import type * as http2 from "node:http2";
import { toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictImageRequestSchema } from "../gen/prediction/v1/prediction_service_pb.js";
import { imageMessages, PREDICT_IMAGE_PATH, STREAM_CLIENTS, type ImageStream } from "./support/image-streams.js";
import { grpcFrame, h2cSession } from "./support/raw-grpc.js";
import { scrapeMetrics } from "./support/scrape-metrics.js";
import { sample } from "./support/shape-samples.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

/** Streams per client kind; with four kinds, a few hundred in all. */
const STREAMS_PER_KIND = 60;
/** Streams open at once per kind: bounded load on a shared machine. */
const AT_ONCE = 12;
const LEVEL_ERROR = 50;

let server: TestServer;
let images: Uint8Array[];

beforeAll(async () => {
  server = await startTestServer();
  images = await Promise.all([sample("circle", 0), sample("square", 1), sample("star", 2)].map(async (s) => (await s).bytes));
});
afterAll(async () => {
  await server?.close();
});

/** The i-th stream's images, whole (size_bytes set), so the server answers each as soon as it has it. */
function requests(i: number) {
  return images.flatMap((bytes, k) => imageMessages(`s${i}-img${k}`, bytes, { sizeBytes: true, chunkSize: 2048 }));
}

/** How long after sending the i-th stream waits before cancelling: spread over reading, inferring and answering. */
const cancelAfterMs = (i: number) => i % 7;

async function runBounded(count: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      while (next < count) await one(next++);
    }),
  );
}

/** Cancels once the first answer is in (so the server holds the call), while the other images are inferred and answered. */
async function cancelMidway(stream: ImageStream, i: number): Promise<void> {
  stream.send(...requests(i));
  expect(await stream.next(15_000)).toBeDefined();
  await new Promise((r) => setTimeout(r, cancelAfterMs(i)));
  stream.cancel();
  await stream.ended;
}

/**
 * A raw HTTP/2 gRPC stream reset by the client after its first answer, its
 * request still open (destroy() sends RST_STREAM alone; close() would
 * half-close first, after which the server may rightly finish the call OK).
 */
async function resetMidway(session: http2.ClientHttp2Session, i: number): Promise<void> {
  const stream = session.request({ ":method": "POST", ":path": PREDICT_IMAGE_PATH, "content-type": "application/grpc", te: "trailers", "x-api-key": API_KEY });
  stream.on("error", () => {});
  const answered = new Promise((r) => stream.once("data", r));
  for (const m of requests(i)) stream.write(grpcFrame(toBinary(PredictImageRequestSchema, m)));
  await answered;
  await new Promise((r) => setTimeout(r, cancelAfterMs(i)));
  const closed = new Promise((r) => stream.once("close", r));
  stream.destroy();
  await closed;
}

function predictImageLines() {
  return server.logs.filter((l) => l.msg === "call" && l.method === PREDICT_IMAGE_PATH);
}

async function waitForLines(count: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (predictImageLines().length < count && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}

describe("PredictImage streams cancelled by the client mid-way", () => {
  it("are logged and counted as CANCELLED, with no INTERNAL or UNKNOWN and no error line", { timeout: 240_000 }, async () => {
    for (const kind of STREAM_CLIENTS) {
      await runBounded(STREAMS_PER_KIND, async (i) => {
        const { stream, close } = kind.open(server.baseUrl, { "x-api-key": API_KEY });
        try {
          await cancelMidway(stream, i);
        } finally {
          close();
        }
      });
    }
    await runBounded(STREAMS_PER_KIND, async (i) => {
      // A connection per stream, as a client process would have (and the per-connection stream limit stays out of it).
      const session = h2cSession(server.baseUrl);
      try {
        await resetMidway(session, i);
      } finally {
        session.close();
      }
    });
    const total = STREAMS_PER_KIND * (STREAM_CLIENTS.length + 1);
    await waitForLines(total);

    const lines = predictImageLines();
    const codes = new Map<string, number>();
    for (const l of lines) codes.set(String(l.code), (codes.get(String(l.code)) ?? 0) + 1);
    expect(Object.fromEntries(codes)).toEqual({ CANCELLED: total });
    expect(server.logs.filter((l) => l.level === LEVEL_ERROR).map((l) => `${l.msg}: ${JSON.stringify(l.err ?? l.error ?? "")}`.slice(0, 200))).toEqual([]);

    // Codes with a count: the alerted codes' series exist at zero from the start.
    const counted = (await scrapeMetrics(server.metricsBaseUrl)).filter(
      (s) => s.name === "rpc_server_calls_total" && s.labels.method === PREDICT_IMAGE_PATH && s.value > 0,
    );
    const byCode: Record<string, number> = {};
    for (const s of counted) byCode[s.labels.code!] = (byCode[s.labels.code!] ?? 0) + s.value;
    expect(byCode).toEqual({ CANCELLED: total });
  });
});
