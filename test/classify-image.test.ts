// ClassifyImage (unary) through the real server over every protocol and HTTP
// version the port answers: one JPEG, PNG or WebP per call, its top labels,
// the errors a client can cause (bad bytes, wrong type, missing key, rule
// breaks) and both size limits (the image's MAX_IMAGE_BYTES and the request
// message cap). Runs on both server paths (vitest.config.ts): the unary fast
// path and connect-node.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_CLIENTS, type Outcome, type ProtocolClient } from "./support/protocol-clients.js";
import { looksLikeStackTrace } from "./support/connect-json.js";
import { sample } from "./support/shape-samples.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";
import { ms } from "./support/durations.js";

const AUTH = { "x-api-key": API_KEY };
const CLASSIFY_PATH = "/prediction.v1.PredictionService/ClassifyImage";

function expectFailure<T>(o: Outcome<T>, code: Code, message?: RegExp): void {
  expect(o.ok, "the call should fail").toBe(false);
  if (o.ok) return;
  expect(o.code, o.message).toBe(code);
  expect(looksLikeStackTrace(o.message), o.message).toBe(false);
  if (message) expect(o.message).toMatch(message);
}

// Two servers for the whole file (default limits, and small ones), shared by every protocol's client.
let server: TestServer;
let limited: TestServer;
beforeAll(async () => {
  [server, limited] = await Promise.all([startTestServer(), startTestServer({ MAX_IMAGE_BYTES: "20000", MAX_MESSAGE_BYTES: "65536" })]);
});
afterAll(async () => {
  await Promise.all([server?.close(), limited?.close()]);
});

describe.each(PROTOCOL_CLIENTS)("ClassifyImage over $name", (factory) => {
  let client: ProtocolClient;
  beforeAll(() => {
    client = factory.make(server.baseUrl);
  });
  afterAll(() => client?.close());

  it("classifies PNG, JPEG and WebP images with the labels, model and timings asked for", async () => {
    for (const [label, format, topK] of [
      ["star", "png", 3],
      ["cross", "jpeg", 1],
      ["ring", "webp", 6],
    ] as const) {
      const s = await sample(label, 21, format);
      const r = await client.classifyImage({ image: s.bytes, contentType: s.contentType, topK }, { headers: AUTH });
      expect(r.ok, r.ok ? "" : r.message).toBe(true);
      if (!r.ok) return;
      const c = r.message.classification!;
      expect(c.labels[0]?.label, c.labels.map((l) => `${l.label}=${l.score.toFixed(3)}`).join(" ")).toBe(label);
      expect(c.labels).toHaveLength(topK);
      expect(c.modelName).toBe("shapes");
      expect(c.modelVersion).toBe("2");
      expect(ms(c.decodeTime)).toBeGreaterThan(0);
      expect(ms(c.inferenceTime)).toBeGreaterThan(0);
      expect(r.requestId).toMatch(/\S/);
    }
  });

  it("refuses bad bytes, a type it does not take, a type that lies, a broken rule and a missing key, then classifies", async () => {
    const s = await sample("triangle", 21, "webp");
    const png = await sample("circle", 21);
    expectFailure(
      await client.classifyImage({ image: s.bytes.subarray(0, s.bytes.length >> 1), contentType: s.contentType }, { headers: AUTH }),
      Code.InvalidArgument,
      /WEBP/,
    );
    expectFailure(
      await client.classifyImage({ image: await sharp(s.bytes).gif().toBuffer(), contentType: "image/gif" }, { headers: AUTH }),
      Code.InvalidArgument,
      /unsupported format \(gif\)/,
    );
    expectFailure(
      await client.classifyImage({ image: png.bytes, contentType: "image/jpeg" }, { headers: AUTH }),
      Code.InvalidArgument,
      /bytes are PNG but content_type says JPEG/,
    );
    const rule = await client.classifyImage({ image: png.bytes, contentType: "image/png", topK: 101 }, { headers: AUTH });
    expectFailure(rule, Code.InvalidArgument, /top_k/);
    if (!rule.ok) expect(rule.badRequest?.fieldViolations.map((v) => v.field)).toEqual(["top_k"]);
    expectFailure(await client.classifyImage({ image: png.bytes, contentType: "image/png" }), Code.Unauthenticated);
    const ok = await client.classifyImage({ image: png.bytes, contentType: "image/png" }, { headers: AUTH });
    expect(ok.ok && ok.message.classification?.labels[0]?.label).toBe("circle");
  });
});

describe.each(PROTOCOL_CLIENTS)("ClassifyImage limits over $name (MAX_IMAGE_BYTES=20000, MAX_MESSAGE_BYTES=65536)", (factory) => {
  let client: ProtocolClient;
  beforeAll(() => {
    client = factory.make(limited.baseUrl);
  });
  afterAll(() => client?.close());

  it("an image over MAX_IMAGE_BYTES gets RESOURCE_EXHAUSTED naming the limit", async () => {
    const big = await sample("triangle", 8, "png", 96);
    expect(big.bytes.length).toBeGreaterThan(20000);
    expectFailure(await client.classifyImage({ image: big.bytes, contentType: "image/png" }, { headers: AUTH }), Code.ResourceExhausted, /20000/);
  });

  it("a request message over the image call's cap gets RESOURCE_EXHAUSTED; other methods keep MAX_MESSAGE_BYTES; the server goes on", async () => {
    // ClassifyImage takes up to 1.4 x MAX_IMAGE_BYTES + 64 KiB (room for base64 in JSON) = 93,536 bytes here.
    expectFailure(await client.classifyImage({ image: new Uint8Array(200_000), contentType: "image/png" }, { headers: AUTH }), Code.ResourceExhausted);
    // 70 KB is under the image call's cap but over MAX_MESSAGE_BYTES for Predict: refused by size before any field rule.
    expectFailure(await client.predict({ modelVersion: "x".repeat(70_000) }, { headers: AUTH }), Code.ResourceExhausted);
    const small = await sample("triangle", 8, "png", 64);
    const ok = await client.classifyImage({ image: small.bytes, contentType: "image/png" }, { headers: AUTH });
    expect(ok.ok && ok.message.classification?.labels[0]?.label).toBe("triangle");
  });
});

describe("ClassifyImage with curl and fetch (Connect JSON)", () => {
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "classify-image-"));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const jsonBody = (bytes: Uint8Array, contentType: string, topK = 3) => JSON.stringify({ image: Buffer.from(bytes).toString("base64"), contentType, topK });

  const post = (body: string, headers: Record<string, string> = AUTH) =>
    fetch(server.baseUrl + CLASSIFY_PATH, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("classifies over Connect JSON, exactly as curl sends it", async () => {
    for (const [label, format] of [
      ["star", "png"],
      ["cross", "jpeg"],
      ["ring", "webp"],
    ] as const) {
      const s = await sample(label, 11, format);
      const res = await post(jsonBody(s.bytes, s.contentType));
      const json = (await res.json()) as {
        classification: { labels: { label: string; score: number }[]; modelName: string; modelVersion: string; decodeTime: string; inferenceTime: string };
      };
      expect(res.status, JSON.stringify(json)).toBe(200);
      const c = json.classification;
      expect(c.labels.map((l) => l.label)[0]).toBe(label);
      expect(c.labels).toHaveLength(3);
      expect(c.modelName).toBe("shapes");
      expect(c.modelVersion).toBe("2");
      expect(c.decodeTime).toMatch(/^\d+(\.\d+)?s$/);
      expect(c.inferenceTime).toMatch(/^\d+(\.\d+)?s$/);
    }
  });

  it("answers a bad image with HTTP 400 invalid_argument and a missing key with 401 unauthenticated", async () => {
    const bad = await post(jsonBody(Buffer.from("not an image, only text ".repeat(20)), "image/png"));
    const badJson = (await bad.json()) as { code: string; message: string };
    expect(bad.status).toBe(400);
    expect(badJson.code).toBe("invalid_argument");
    expect(badJson.message).toMatch(/PNG/);

    const png = await sample("circle", 11);
    const asJpeg = await post(jsonBody(png.bytes, "image/jpeg"));
    expect(asJpeg.status).toBe(400);

    const noKey = await post(jsonBody(png.bytes, "image/png"), {});
    expect(noKey.status).toBe(401);
    expect(((await noKey.json()) as { code: string }).code).toBe("unauthenticated");
  });

  it("works with the real curl binary and a JSON file (-d @file.json)", async () => {
    const s = await sample("square", 11);
    const file = join(tmp, "image.json");
    writeFileSync(file, jsonBody(s.bytes, "image/png"));
    const { stdout } = await promisify(execFile)("curl", [
      "-s",
      "--max-time",
      "20",
      `${server.baseUrl}${CLASSIFY_PATH}`,
      "-H",
      "content-type: application/json",
      "-H",
      `x-api-key: ${API_KEY}`,
      "-d",
      `@${file}`,
    ]);
    const json = JSON.parse(stdout) as { classification: { labels: { label: string; score: number }[]; modelName: string } };
    expect(json.classification.labels[0]!.label, stdout).toBe("square");
    expect(json.classification.labels).toHaveLength(3);
    expect(json.classification.modelName).toBe("shapes");
  });
});
