// Image classification through the real server: PredictImage streams over
// grpc-js (gRPC, h2c), connect-node gRPC (HTTP/2) and connect-node Connect
// (HTTP/2); ClassifyImage has its own suite (classify-image.test.ts), which
// runs on both server paths. Images are drawn at test time (test/support/shape-images.ts)
// with seeds from 900000 on, which the `shapes` model never saw, and sent in
// several chunks each. Also covered: bad images inside a stream, misuse of a
// stream, every image limit, a decompression bomb, client cancellation, and
// batching of images from many streams.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import sharp from "sharp";
import { pngBomb } from "./support/png-bomb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictionService, type ImageClassification, type PredictImageResponse } from "../gen/prediction/v1/prediction_service_pb.js";
import { looksLikeStackTrace } from "./support/connect-json.js";
import { chunk, drain, grpcJsImageStream, imageMessages, STREAM_CLIENTS, type ImageStream, type StreamClientKind } from "./support/image-streams.js";
import { metricValue, scrapeMetrics } from "./support/scrape-metrics.js";
import { sample, type Sample } from "./support/shape-samples.js";
import { SHAPE_LABELS } from "./support/shape-images.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";
import { ms } from "./support/durations.js";

const AUTH = { "x-api-key": API_KEY };
/** At least three chunks per image, at most 4 KiB each. */
const chunkSizeFor = (bytes: Uint8Array) => Math.min(4096, Math.ceil(bytes.length / 3));

function sendImage(stream: ImageStream, id: string, s: Sample, sizeBytes: boolean, extra: { topK?: number } = {}) {
  const messages = imageMessages(id, s.bytes, { contentType: s.contentType, sizeBytes, chunkSize: chunkSizeFor(s.bytes), ...extra });
  expect(messages.length, `${id} is sent as a header and several chunks`).toBeGreaterThanOrEqual(4);
  stream.send(...messages);
}

function describeAnswer(a: PredictImageResponse | undefined): string {
  if (!a) return "no answer";
  if (a.result.case === "error") return `${a.id}: error ${a.result.value.code} ${a.result.value.message}`;
  if (a.result.case === "classification") return `${a.id}: ${a.result.value.labels.map((l) => `${l.label}=${l.score.toFixed(3)}`).join(" ")}`;
  return `${a.id}: empty result`;
}

function expectLabels(c: ImageClassification, label: string, topK: number) {
  expect(c.labels[0]?.label, c.labels.map((l) => `${l.label}=${l.score.toFixed(3)}`).join(" ")).toBe(label);
  expect(c.labels).toHaveLength(topK);
  for (let i = 1; i < c.labels.length; i++) expect(c.labels[i]!.score).toBeLessThanOrEqual(c.labels[i - 1]!.score);
  expect(c.labels.reduce((a, l) => a + l.score, 0)).toBeLessThanOrEqual(1 + 1e-5);
  expect(c.modelName).toBe("shapes");
  expect(c.modelVersion).toBe("2");
  expect(c.rejected, "one shape is not rejected").toBe(false);
}

function expectClassified(a: PredictImageResponse | undefined, id: string, label: string, topK = 5): ImageClassification {
  expect(a?.id, describeAnswer(a)).toBe(id);
  expect(a!.result.case, describeAnswer(a)).toBe("classification");
  const c = a!.result.value as ImageClassification;
  expectLabels(c, label, topK);
  expect(ms(c.decodeTime), "decode_time").toBeGreaterThan(0);
  expect(ms(c.inferenceTime), "inference_time").toBeGreaterThan(0);
  return c;
}

function expectImageError(a: PredictImageResponse | undefined, id: string, code: Code, message?: RegExp) {
  expect(a?.id, describeAnswer(a)).toBe(id);
  expect(a!.result.case, describeAnswer(a)).toBe("error");
  const e = a!.result.value as { code: number; message: string };
  expect(e.code, e.message).toBe(code);
  expect(e.message.length).toBeGreaterThan(0);
  expect(looksLikeStackTrace(e.message), e.message).toBe(false);
  if (message) expect(e.message).toMatch(message);
}

/** Opens a stream, runs `body`, and always releases the client. */
async function withStream<T>(
  kind: StreamClientKind,
  baseUrl: string,
  body: (s: ImageStream) => Promise<T>,
  headers: Record<string, string> = AUTH,
): Promise<T> {
  const { stream, close } = kind.open(baseUrl, headers);
  try {
    return await body(stream);
  } finally {
    stream.cancel();
    await stream.ended;
    close();
  }
}

async function pollUntil<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await read();
  while (!ok(v) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  return v;
}

const activeStreams = async (baseUrl: string) => metricValue(await scrapeMetrics(baseUrl), "image_streams_active");

describe("PredictImage streams", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  describe.each(STREAM_CLIENTS)("$name", (kind) => {
    it("classifies PNG, JPEG and WebP images sent in chunks, with and without size_bytes, answering in order", async () => {
      const plan: Array<{ id: string; s: Sample; sized: boolean }> = [];
      for (const [i, label] of SHAPE_LABELS.entries()) {
        for (const [j, format] of (["png", "jpeg", "webp"] as const).entries()) {
          plan.push({ id: `${label}-${format}-${i}`, s: await sample(label, i + 3 * j, format), sized: (i + j) % 2 === 0 });
        }
      }
      const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
        for (const p of plan) sendImage(stream, p.id, p.s, p.sized);
        stream.end();
        return drain(stream);
      });
      expect(end).toEqual({ code: 0, message: "" });
      expect(answers.map((a) => a.id)).toEqual(plan.map((p) => p.id));
      for (const [i, a] of answers.entries()) expectClassified(a, plan[i]!.id, plan[i]!.s.label);
    });

    it("answers an image with size_bytes at its last byte, and one without at the next header or the end", async () => {
      await withStream(kind, server.baseUrl, async (stream) => {
        // 1 and 2: size_bytes set. Each answer must come before the client sends anything more.
        sendImage(stream, "sized-1", await sample("circle", 0), true, { topK: 2 });
        expectClassified(await stream.next(), "sized-1", "circle", 2);
        sendImage(stream, "sized-2", await sample("cross", 0, "jpeg"), true, { topK: 6 });
        expectClassified(await stream.next(), "sized-2", "cross", 6);
        // An id may be used again once its image has been answered.
        sendImage(stream, "sized-1", await sample("ring", 1, "webp"), true, { topK: 1 });
        expectClassified(await stream.next(), "sized-1", "ring", 1);

        // 3: no size_bytes. The server cannot know it is complete until the next header.
        sendImage(stream, "open-3", await sample("triangle", 1), false);
        await new Promise((r) => setTimeout(r, 300));
        expect(stream.buffered, "an image without size_bytes was answered before it could be known to be complete").toBe(0);
        sendImage(stream, "sized-4", await sample("star", 1), true);
        expectClassified(await stream.next(), "open-3", "triangle");
        expectClassified(await stream.next(), "sized-4", "star");

        // 5: no size_bytes, last image: answered when the client half-closes.
        sendImage(stream, "open-5", await sample("square", 1), false);
        await new Promise((r) => setTimeout(r, 200));
        expect(stream.buffered).toBe(0);
        stream.end();
        const rest = await drain(stream);
        expect(rest.answers).toHaveLength(1);
        expectClassified(rest.answers[0], "open-5", "square");
        expect(rest.end.code).toBe(0);
      });
    });

    it("gives a bad image its own INVALID_ARGUMENT answer and classifies the next image", async () => {
      const good = await Promise.all(SHAPE_LABELS.map((l, i) => sample(l, 4 + i)));
      const png = (await sample("star", 5)).bytes;
      const gif = await sharp(png).gif().toBuffer();
      expect(gif.subarray(0, 3).toString()).toBe("GIF");
      const bad: Array<{ id: string; bytes: Uint8Array; contentType: string; sized: boolean; message: RegExp }> = [
        { id: "garbage", bytes: Buffer.from("these bytes are no image of any kind ".repeat(300)), contentType: "image/png", sized: true, message: /PNG/ },
        { id: "gif", bytes: gif, contentType: "image/gif", sized: false, message: /unsupported format \(gif\)/ },
        {
          id: "text-as-gif",
          bytes: Buffer.from("hello, I am a text file\n".repeat(400)),
          contentType: "image/gif",
          sized: true,
          message: /unsupported format \(gif\)/,
        },
        { id: "png-as-jpeg", bytes: png, contentType: "image/jpeg", sized: false, message: /bytes are PNG but content_type says JPEG/ },
        { id: "truncated-png", bytes: png.subarray(0, Math.floor(png.length / 2)), contentType: "image/png", sized: true, message: /truncated|corrupt/ },
      ];
      const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
        sendImage(stream, "good-0", good[0]!, true);
        bad.forEach((b, i) => {
          stream.send(...imageMessages(b.id, b.bytes, { contentType: b.contentType, sizeBytes: b.sized, chunkSize: chunkSizeFor(b.bytes) }));
          sendImage(stream, `good-${i + 1}`, good[i + 1]!, i % 2 === 0);
        });
        stream.end();
        return drain(stream);
      });
      expect(end.code, end.message).toBe(0);
      expect(answers.map((a) => a.id)).toEqual(["good-0", ...bad.flatMap((b, i) => [b.id, `good-${i + 1}`])]);
      expectClassified(answers[0], "good-0", good[0]!.label);
      bad.forEach((b, i) => {
        expectImageError(answers[1 + 2 * i], b.id, Code.InvalidArgument, b.message);
        expectClassified(answers[2 + 2 * i], `good-${i + 1}`, good[i + 1]!.label);
      });
    });

    it("ends the stream with INVALID_ARGUMENT for a chunk before any header", async () => {
      const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
        stream.send(chunk((await sample("circle", 2)).bytes.subarray(0, 4096)));
        return drain(stream);
      });
      expect(answers).toEqual([]);
      expect(end.code).toBe(Code.InvalidArgument);
      expect(end.message).toMatch(/header/i);
    });

    it("ends the stream with INVALID_ARGUMENT for an id reused while its image is open", async () => {
      const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
        sendImage(stream, "dup", await sample("circle", 3), false);
        sendImage(stream, "dup", await sample("square", 3), false);
        sendImage(stream, "after", await sample("square", 4), false);
        stream.end();
        return drain(stream);
      });
      expect(end.code, end.message).toBe(Code.InvalidArgument);
      expect(end.message).toMatch(/"dup".*reused/);
      // The first "dup" may still be answered; nothing after the misuse is.
      expect(answers.length).toBeLessThanOrEqual(1);
      if (answers.length === 1) expectClassified(answers[0], "dup", "circle");
    });

    it("ends the stream with INVALID_ARGUMENT for a header with an empty id", async () => {
      const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
        sendImage(stream, "", await sample("circle", 4), true);
        return drain(stream);
      });
      expect(answers).toEqual([]);
      expect(end.code).toBe(Code.InvalidArgument);
      expect(end.message).toMatch(/\bid\b/);
    });
  });

  it("refuses a 20000x20000 PNG quickly with RESOURCE_EXHAUSTED, without decoding it, and goes on", async () => {
    const t0 = performance.now();
    const bomb = pngBomb(20000, 20000);
    const made = performance.now() - t0;
    const meta = await sharp(bomb, { limitInputPixels: false }).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([20000, 20000, "png"]);
    // 400 million pixels in a file of a few tens of KB.
    expect(bomb.length).toBeLessThan(64 * 1024);

    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    const stream = grpcJsImageStream(client, AUTH);
    try {
      const rssBefore = process.memoryUsage.rss();
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 2);
      let refusedMs: number;
      let answer: PredictImageResponse | undefined;
      try {
        stream.send(...imageMessages("bomb", bomb, { sizeBytes: true, chunkSize: 64 * 1024 }));
        const sent = performance.now();
        answer = await stream.next(30_000);
        refusedMs = performance.now() - sent;
        // A little longer, in case memory is still growing after the answer.
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        clearInterval(sampler);
      }
      const rssDeltaMb = (rssPeak - rssBefore) / 2 ** 20;
      console.log(
        `decompression bomb: ${bomb.length} bytes (${(bomb.length / 1024).toFixed(0)} KiB, made in ${made.toFixed(0)} ms) for 20000x20000; ` +
          `refused ${refusedMs.toFixed(1)} ms after the last chunk was handed to grpc-js; RSS peak delta ${rssDeltaMb.toFixed(1)} MB`,
      );
      expectImageError(answer, "bomb", Code.ResourceExhausted, /20000x20000.*40000000 pixels/);
      expect(refusedMs).toBeLessThan(5_000);
      expect(rssDeltaMb).toBeLessThan(100);

      sendImage(stream, "after-bomb", await sample("star", 6), true);
      expectClassified(await stream.next(), "after-bomb", "star");
      stream.end();
      expect((await drain(stream)).end.code).toBe(0);

      // ClassifyImage has the same limit.
      const unary = createClient(PredictionService, createGrpcTransport({ baseUrl: server.baseUrl }));
      const e = await unary.classifyImage({ image: bomb, contentType: "image/png" }, { headers: AUTH }).then(
        () => undefined,
        (err: unknown) => ConnectError.from(err),
      );
      expect(e?.code, e?.rawMessage).toBe(Code.ResourceExhausted);
      expect(e?.rawMessage).toMatch(/pixels/);
    } finally {
      stream.cancel();
      await stream.ended;
      client.close();
    }
  }, 90_000);

  it.each(STREAM_CLIENTS)("a client that cancels mid-image leaves nothing behind ($name)", async (kind) => {
    expect(
      await pollUntil(
        () => activeStreams(server.metricsBaseUrl),
        (n) => n === 0,
      ),
    ).toBe(0);
    const s = await sample("cross", 7);
    const messages = imageMessages("half", s.bytes, { sizeBytes: true, chunkSize: 2048 });
    const { stream, close } = kind.open(server.baseUrl, AUTH);
    try {
      // One full image first: proves the server holds the stream open.
      sendImage(stream, "whole", await sample("ring", 7), true);
      expectClassified(await stream.next(), "whole", "ring");
      expect(await activeStreams(server.metricsBaseUrl)).toBe(1);
      stream.send(...messages.slice(0, Math.ceil(messages.length / 2)));
      await new Promise((r) => setTimeout(r, 100));
      stream.cancel();
      expect((await stream.ended).code).toBe(Code.Canceled);
    } finally {
      close();
    }
    expect(
      await pollUntil(
        () => activeStreams(server.metricsBaseUrl),
        (n) => n === 0,
      ),
    ).toBe(0);
    await withStream(kind, server.baseUrl, async (again) => {
      sendImage(again, "again", s, true);
      expectClassified(await again.next(), "again", "cross");
    });
  });

  it("batches images from 8 concurrent streams (8 images each) into shared executions", async () => {
    const labels = { model: "shapes", version: "2" };
    const before = await scrapeMetrics(server.metricsBaseUrl);
    const bucket = (m: Awaited<ReturnType<typeof scrapeMetrics>>, le: string) => metricValue(m, "inference_batch_size_bucket", { ...labels, le });
    const count = (m: Awaited<ReturnType<typeof scrapeMetrics>>) => metricValue(m, "inference_batch_size_count", labels);
    const rows = (m: Awaited<ReturnType<typeof scrapeMetrics>>) => metricValue(m, "inference_batch_size_sum", labels);

    const streams = Array.from({ length: 8 }, (_, i) => ({ i, kind: STREAM_CLIENTS[i % STREAM_CLIENTS.length]! }));
    const plans = await Promise.all(
      streams.map(({ i }) => Promise.all(Array.from({ length: 8 }, (_, j) => sample(SHAPE_LABELS[(i + j) % 6]!, (i * 8 + j) % 12)))),
    );
    const results = await Promise.all(
      streams.map(({ i, kind }) =>
        withStream(kind, server.baseUrl, async (stream) => {
          for (const [j, s] of plans[i]!.entries()) sendImage(stream, `s${i}-${j}`, s, j % 2 === 0);
          stream.end();
          return drain(stream);
        }),
      ),
    );
    results.forEach(({ answers, end }, i) => {
      expect(end.code, end.message).toBe(0);
      expect(answers).toHaveLength(8);
      for (const [j, a] of answers.entries()) expectClassified(a, `s${i}-${j}`, plans[i]![j]!.label);
    });

    const after = await scrapeMetrics(server.metricsBaseUrl);
    const executions = count(after) - count(before);
    const single = bucket(after, "1") - bucket(before, "1");
    const rowsRun = rows(after) - rows(before);
    const hist = ["1", "2", "4", "8", "16", "32"].map((le) => `<=${le}: ${bucket(after, le) - bucket(before, le)}`).join(", ");
    console.log(`batching: 64 images in ${executions} executions (${single} of one row; cumulative ${hist}); mean ${(rowsRun / executions).toFixed(2)} rows`);
    expect(rowsRun).toBe(64);
    expect(executions - single, "executions with more than one row").toBeGreaterThan(0);
  }, 60_000);
});

describe("image limits", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ MAX_IMAGE_BYTES: "20000", MAX_IMAGES_PER_STREAM: "4", MAX_IMAGE_STREAMS_PER_CONNECTION: "2" });
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(STREAM_CLIENTS)("an image over MAX_IMAGE_BYTES gets RESOURCE_EXHAUSTED and the stream goes on ($name)", async (kind) => {
    const small = await sample("triangle", 8, "png", 64);
    const big = await sample("triangle", 8, "png", 96);
    expect(small.bytes.length).toBeLessThan(20000);
    expect(big.bytes.length).toBeGreaterThan(20000);
    const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
      sendImage(stream, "big-unsized", big, false);
      sendImage(stream, "small-1", small, true);
      sendImage(stream, "big-sized", big, true); // refused at its header
      sendImage(stream, "small-2", small, false);
      stream.end();
      return drain(stream);
    });
    expect(end.code, end.message).toBe(0);
    expect(answers.map((a) => a.id)).toEqual(["big-unsized", "small-1", "big-sized", "small-2"]);
    expectImageError(answers[0], "big-unsized", Code.ResourceExhausted, /20000 bytes/);
    expectClassified(answers[1], "small-1", "triangle");
    expectImageError(answers[2], "big-sized", Code.ResourceExhausted, /20000 bytes/);
    expectClassified(answers[3], "small-2", "triangle");
  });

  it.each(STREAM_CLIENTS)("more than MAX_IMAGES_PER_STREAM images end the stream with RESOURCE_EXHAUSTED ($name)", async (kind) => {
    const small = await sample("square", 9, "png", 64);
    const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
      for (let i = 0; i < 6; i++) sendImage(stream, `img-${i}`, small, true);
      stream.end();
      return drain(stream);
    });
    expect(end.code, end.message).toBe(Code.ResourceExhausted);
    expect(end.message).toMatch(/4 images/);
    expect(answers.length).toBeLessThanOrEqual(4);
    for (const [i, a] of answers.entries()) expectClassified(a, `img-${i}`, "square");
  });

  it("a third concurrent stream on one grpc-js channel gets RESOURCE_EXHAUSTED (MAX_IMAGE_STREAMS_PER_CONNECTION=2)", async () => {
    const small = await sample("ring", 9, "png", 64);
    const channel = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    const other = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    const open: ImageStream[] = [];
    try {
      for (const id of ["first", "second"]) {
        const s = grpcJsImageStream(channel, AUTH);
        open.push(s);
        sendImage(s, id, small, true);
        expectClassified(await s.next(), id, "ring"); // admitted and open
      }
      expect(
        await pollUntil(
          () => activeStreams(server.metricsBaseUrl),
          (n) => n === 2,
        ),
      ).toBe(2);

      const third = grpcJsImageStream(channel, AUTH);
      open.push(third);
      sendImage(third, "third", small, true);
      const refused = await drain(third);
      expect(refused.answers).toEqual([]);
      expect(refused.end.code, refused.end.message).toBe(Code.ResourceExhausted);
      expect(refused.end.message).toMatch(/connection/);

      // Another connection is not affected...
      const elsewhere = grpcJsImageStream(other, AUTH);
      open.push(elsewhere);
      sendImage(elsewhere, "elsewhere", small, true);
      expectClassified(await elsewhere.next(), "elsewhere", "ring");
      elsewhere.end();
      expect((await drain(elsewhere)).end.code).toBe(0);

      // ...and a slot given back on this one can be taken again.
      open[0]!.end();
      expect((await drain(open[0]!)).end.code).toBe(0);
      await pollUntil(
        () => activeStreams(server.metricsBaseUrl),
        (n) => n === 1,
      );
      const fourth = grpcJsImageStream(channel, AUTH);
      open.push(fourth);
      sendImage(fourth, "fourth", small, true);
      expectClassified(await fourth.next(), "fourth", "ring");
    } finally {
      for (const s of open) s.cancel();
      await Promise.all(open.map((s) => s.ended));
      channel.close();
      other.close();
    }
  });
});

describe("idle image streams (IMAGE_STREAM_IDLE_MS=300)", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ IMAGE_STREAM_IDLE_MS: "300" });
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(STREAM_CLIENTS)("a stream idle after its answers ends with DEADLINE_EXCEEDED ($name)", async (kind) => {
    const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
      sendImage(stream, "only", await sample("circle", 10), true);
      return drain(stream);
    });
    expect(answers).toHaveLength(1);
    expectClassified(answers[0], "only", "circle");
    expect(end.code, end.message).toBe(Code.DeadlineExceeded);
    expect(end.message).toMatch(/300 ms/);
    expect(
      await pollUntil(
        () => activeStreams(server.metricsBaseUrl),
        (n) => n === 0,
      ),
    ).toBe(0);
  });

  it("a stream that never sends a message ends with DEADLINE_EXCEEDED (grpc-js)", async () => {
    const { answers, end } = await withStream(STREAM_CLIENTS[0]!, server.baseUrl, (stream) => drain(stream));
    expect(answers).toEqual([]);
    expect(end.code, end.message).toBe(Code.DeadlineExceeded);
  });

  it.each(STREAM_CLIENTS)("a stream that stops in the middle of an image ends with DEADLINE_EXCEEDED ($name)", async (kind) => {
    const s = await sample("star", 10);
    const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
      const messages = imageMessages("stalled", s.bytes, { sizeBytes: true, chunkSize: 2048 });
      stream.send(...messages.slice(0, Math.ceil(messages.length / 2)));
      return drain(stream, 20_000);
    });
    expect(answers).toEqual([]);
    expect(end.code, end.message).toBe(Code.DeadlineExceeded);
    expect(
      await pollUntil(
        () => activeStreams(server.metricsBaseUrl),
        (n) => n === 0,
      ),
    ).toBe(0);
  });
});

describe("a stream's lifetime (IMAGE_STREAM_MAX_MS=1500) on connections closed when idle (IDLE_TIMEOUT_MS=300)", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ IMAGE_STREAM_MAX_MS: "1500", IDLE_TIMEOUT_MS: "300" });
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each(STREAM_CLIENTS)("a stream trickling a byte every 100 ms ends with DEADLINE_EXCEEDED at the limit ($name)", async (kind) => {
    const s = await sample("star", 10);
    const started = performance.now();
    const { answers, end } = await withStream(kind, server.baseUrl, async (stream) => {
      stream.send(...imageMessages("trickled", s.bytes, { sizeBytes: true }).slice(0, 1));
      let sent = 0;
      const trickle = setInterval(() => stream.send(chunk(s.bytes.subarray(sent, ++sent))), 100);
      try {
        return await drain(stream, 10_000);
      } finally {
        clearInterval(trickle);
      }
    });
    const lastedMs = performance.now() - started;
    expect(answers).toEqual([]);
    expect(end.code, end.message).toBe(Code.DeadlineExceeded);
    expect(end.message).toMatch(/open for 1500 ms/);
    expect(lastedMs).toBeGreaterThanOrEqual(1500);
    expect(lastedMs).toBeLessThan(5000);
    expect(
      await pollUntil(
        () => activeStreams(server.metricsBaseUrl),
        (n) => n === 0,
      ),
    ).toBe(0);
  });

  it.each(STREAM_CLIENTS)("a stream quiet for three connection idle periods is not cut off ($name)", async (kind) => {
    const s = await sample("circle", 10);
    const messages = imageMessages("quiet", s.bytes, { contentType: s.contentType, sizeBytes: true, chunkSize: chunkSizeFor(s.bytes) });
    const answer = await withStream(kind, server.baseUrl, async (stream) => {
      stream.send(...messages.slice(0, 2));
      await new Promise((r) => setTimeout(r, 900));
      stream.send(...messages.slice(2));
      return stream.next(5000);
    });
    expectClassified(answer, "quiet", "circle");
  });
});
