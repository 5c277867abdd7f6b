// The web page, /docs and /openapi.json as HTTP resources on the real
// server: content types, caching, CSP, HEAD, ETags, gzip, no traversal, no
// API key, no CORS setting, and never in the way of an RPC.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWeb } from "../scripts/build-web.mjs";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

let server: TestServer;
let webRoot: string;

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), "web-"));
  await buildWeb(webRoot);
  server = await startTestServer({ CORS_ORIGINS: "" }, { webRoot });
});
afterAll(async () => {
  await server?.close();
  rmSync(webRoot, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP/1.1 request with the path sent exactly as written (fetch would normalise "../"). */
function get(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method: options.method ?? "GET", headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const assetUrls = (html: string) => [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);

describe("the static site", () => {
  it("serves the page at / with no key, no-cache, an ETag and a strict CSP", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.headers.etag).toMatch(/^"[\w-]+"$/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe");
    // Same origin: no CORS header is needed or sent.
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.body.toString()).toContain("<title>Prediction server</title>");
  });

  it("serves hashed assets as immutable, with their content types", async () => {
    const html = (await get("/")).body.toString();
    const urls = assetUrls(html);
    expect(urls.map((u) => u.split(".").pop()).sort()).toEqual(["css", "js"]);
    for (const url of urls) {
      expect(url).toMatch(/-[A-Z0-9]{8}\.(js|css)$/);
      const res = await get(url);
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe(url.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      expect(res.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    }
  });

  it("serves /docs and /openapi.json, the document buf generated", async () => {
    const docs = await get("/docs");
    expect(docs.status).toBe(200);
    expect(docs.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(assetUrls(docs.body.toString())).toHaveLength(2);
    const api = await get("/openapi.json");
    expect(api.status).toBe(200);
    expect(api.headers["content-type"]).toBe("application/json");
    expect(api.headers["cache-control"]).toBe("no-cache");
    expect(api.body.toString()).toBe(readFileSync("gen/openapi/prediction.v1.openapi.json", "utf8"));
  });

  it("answers HEAD without a body, If-None-Match with 304, and gzip when asked", async () => {
    const full = await get("/docs");
    const head = await get("/docs", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers["content-length"]).toBe(String(full.body.length));
    const again = await get("/docs", { headers: { "if-none-match": String(full.headers.etag) } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const gz = await get("/openapi.json", { headers: { "accept-encoding": "gzip, br" } });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.headers.vary).toBe("accept-encoding");
    expect(gunzipSync(gz.body).toString()).toBe(readFileSync("gen/openapi/prediction.v1.openapi.json", "utf8"));
  });

  it("refuses other methods on its paths", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await get("/", { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe("GET, HEAD");
    }
  });

  it("serves nothing outside its files: no traversal, no listing, no /redoc", async () => {
    for (const path of [
      "/../package.json",
      "/assets/../../package.json",
      "/%2e%2e/package.json",
      "/assets/..%2f..%2fpackage.json",
      "/assets/",
      "/assets",
      "/docs/../../src/server.ts",
      "/index.html/",
      "/redoc",
      "/etc/passwd",
      "//etc/passwd",
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      // The RPC router's "no route" answer: the site let the path go by.
      expect(JSON.parse(res.body.toString()).code, path).toBe("unimplemented");
    }
  });

  it("never shadows an RPC: the Connect and gRPC-Web paths still answer", async () => {
    const ok = await get("/prediction.v1.PredictionService/ListModels", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": API_KEY },
      body: "{}",
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString()).models.length).toBeGreaterThan(0);
    // A GET to an RPC path is the RPC router's to answer, not the site's.
    const viaGet = await get("/prediction.v1.PredictionService/ListModels");
    expect(viaGet.headers["content-security-policy"]).toBeUndefined();
  });
});

describe("without a built page", () => {
  it("GET / still answers with the JSON index", async () => {
    const bare = await startTestServer({}, { webRoot: join(webRoot, "missing") });
    try {
      const res = await fetch(`${bare.baseUrl}/`);
      expect(res.status).toBe(200);
      expect((await res.json()).name).toBe("prediction-server");
      expect((await fetch(`${bare.baseUrl}/docs`)).status).toBe(404);
    } finally {
      await bare.close();
    }
  });
});
