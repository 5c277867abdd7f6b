// listen(): HTTP/1.1 and HTTP/2 (h2c prior knowledge, or ALPN over TLS) on one
// port. Real servers and sockets throughout.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as https from "node:https";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { listen, type ListeningServer, type StreamHandler } from "../src/transport/listen.ts";
import type { NodeHandler } from "../src/transport/node-handler.ts";

const H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/** Answers {"protocol", "path"} as JSON after `?delay=ms`. */
const started: string[] = [];
const handler: NodeHandler = (req, res) => {
  started.push(req.url ?? "");
  const delay = Number(new URL(req.url ?? "/", "http://x").searchParams.get("delay") ?? 0);
  const timer = setTimeout(() => {
    const r = res as http.ServerResponse;
    r.writeHead(200, { "content-type": "application/json" });
    r.end(JSON.stringify({ protocol: req.httpVersion, path: req.url }));
  }, delay);
  (res as http.ServerResponse).on("close", () => clearTimeout(timer));
};

type Reply = { status: number; body: { protocol: string; path: string }; reusedSocket?: boolean };

function h1Get(port: number, path: string, extra: https.RequestOptions = {}): Promise<Reply> {
  const mod = extra.ca ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get({ host: "127.0.0.1", port, path, ...extra }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), reusedSocket: req.reusedSocket }));
    });
    req.on("error", reject);
  });
}

function h2Get(session: http2.ClientHttp2Session, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let status = 0;
    let text = "";
    stream.setEncoding("utf8");
    stream.on("response", (headers) => (status = Number(headers[":status"])));
    stream.on("data", (d) => (text += d));
    stream.on("end", () => {
      try {
        resolve({ status, body: JSON.parse(text) });
      } catch {
        reject(new Error(`stream ended without a JSON reply (status ${status})`));
      }
    });
    stream.on("error", reject);
  });
}

function h2Connect(url: string, options: http2.SecureClientSessionOptions = {}): http2.ClientHttp2Session {
  const session = http2.connect(url, options);
  session.on("error", () => {}); // failures surface on the streams
  return session;
}

/** A raw TCP connection whose first `trickle` bytes go out one per write, with pauses. */
function tricklingConnection(port: number, trickle: number): Duplex {
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      void (async () => {
        while (trickle > 0 && chunk.length > 0) {
          socket.write(chunk.subarray(0, 1));
          chunk = chunk.subarray(1);
          trickle--;
          await sleep(2);
        }
        if (chunk.length > 0) socket.write(chunk);
        callback();
      })();
    },
    read() {
      socket.resume();
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on("data", (d) => duplex.push(d) || socket.pause());
  socket.on("end", () => duplex.push(null));
  socket.on("error", (err) => duplex.destroy(err));
  return duplex;
}

/** Raw socket: send `pieces` with pauses, resolve with everything the server sent until it closed. */
function rawExchange(port: number, pieces: (string | Buffer)[], pauseMs = 5): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let received = "";
    socket.on("data", (d) => (received += d.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => resolve(received));
    socket.on("connect", async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        await sleep(pauseMs);
      }
    });
  });
}

describe("cleartext: HTTP/1.1 and h2c on one port", () => {
  let server: ListeningServer;
  let base: string;
  beforeAll(async () => {
    server = await listen({ port: 0, host: "127.0.0.1", handler, sniffTimeoutMs: 300 });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it("binds a real port when asked for port 0", () => {
    expect(server.port).toBeGreaterThan(0);
  });

  it("serves HTTP/1.1, keeping the connection alive", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await h1Get(server.port, "/one", { agent });
      const second = await h1Get(server.port, "/two", { agent });
      expect(first).toMatchObject({ status: 200, body: { protocol: "1.1", path: "/one" } });
      expect(second).toMatchObject({ status: 200, body: { protocol: "1.1", path: "/two" }, reusedSocket: true });
    } finally {
      agent.destroy();
    }
  });

  it("serves h2c with prior knowledge, many concurrent streams on one session", async () => {
    const session = h2Connect(base);
    try {
      const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => h2Get(session, `/stream-${i}?delay=${20 * (8 - i)}`)));
      replies.forEach((reply, i) => {
        expect(reply.status).toBe(200);
        expect(reply.body).toEqual({ protocol: "2.0", path: `/stream-${i}?delay=${20 * (8 - i)}` });
      });
    } finally {
      session.close();
    }
  });

  it("routes to HTTP/2 when the preface arrives one byte at a time", async () => {
    // The client's preface plus its first SETTINGS frame trickle in.
    const session = h2Connect(base, { createConnection: () => tricklingConnection(server.port, 40) });
    try {
      expect(await h2Get(session, "/trickled")).toMatchObject({ status: 200, body: { protocol: "2.0" } });
    } finally {
      session.close();
    }
  });

  it("answers a slowly written raw preface with a SETTINGS frame", async () => {
    const emptySettings = Buffer.from([0, 0, 0, 0x04, 0, 0, 0, 0, 0]);
    const got = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect(server.port, "127.0.0.1", async () => {
        for (const byte of Buffer.from(H2_PREFACE, "latin1")) {
          socket.write(Buffer.from([byte]));
          await sleep(2);
        }
        socket.write(emptySettings);
      });
      socket.once("data", (d) => {
        resolve(d);
        socket.destroy();
      });
      socket.on("error", reject);
    });
    // Frame header: 24-bit length, type, flags, stream id. Server preface = SETTINGS on stream 0.
    expect(got[3]).toBe(0x04);
    expect(got.readUInt32BE(5) & 0x7fffffff).toBe(0);
  });

  it("serves an HTTP/1.1 request sent in small pieces", async () => {
    const request = "GET /pieces HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    const pieces = ["G", ...(request.slice(1).match(/.{1,3}/gs) ?? [])];
    const response = await rawExchange(server.port, pieces);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('{"protocol":"1.1","path":"/pieces"}');
  });

  it("survives garbage, early closes and silent connections", async () => {
    // Garbage goes to the HTTP/1.1 parser, which answers 400 and hangs up.
    expect(await rawExchange(server.port, ["\x00\x01\x02garbage\r\n\r\n"])).toMatch(/^HTTP\/1\.1 400 /);
    // Connect and leave at once; connect and reset.
    await rawExchange(server.port, []).catch(() => {});
    await new Promise<void>((resolve) => {
      const s = net.connect(server.port, "127.0.0.1", () => s.resetAndDestroy());
      s.on("error", () => {});
      s.on("close", () => resolve());
    });
    // Half a preface, then EOF: the server cannot route it and closes.
    const halfPreface = new Promise<void>((resolve) => {
      const s = net.connect(server.port, "127.0.0.1", () => s.end(H2_PREFACE.slice(0, 10)));
      s.on("error", () => {});
      s.on("close", () => resolve());
      s.resume();
    });
    await halfPreface;
    // Silent connection: dropped after sniffTimeoutMs (300 ms here).
    const t0 = Date.now();
    expect(await rawExchange(server.port, [])).toBe("");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    // Still serving both protocols.
    expect((await h1Get(server.port, "/after")).body.protocol).toBe("1.1");
    const session = h2Connect(base);
    try {
      expect((await h2Get(session, "/after")).body.protocol).toBe("2.0");
    } finally {
      session.close();
    }
  });
});

/** Takes HTTP/2 streams whose path starts with /raw and answers them on the bare stream. */
const taken: string[] = [];
const streamHandler: StreamHandler = (stream, headers) => {
  const path = headers[":path"] ?? "";
  if (!path.startsWith("/raw")) return false;
  taken.push(path);
  stream.respond({ ":status": 200, "content-type": "application/json" });
  stream.end(JSON.stringify({ protocol: "raw", path }));
  return true;
};

describe("streamHandler: HTTP/2 streams before the compat layer", () => {
  let server: ListeningServer;
  let base: string;
  beforeAll(async () => {
    server = await listen({ port: 0, host: "127.0.0.1", handler, streamHandler });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it("takes the streams it claims and leaves every other one to the request handler, on one session", async () => {
    taken.length = 0;
    started.length = 0;
    const session = h2Connect(base);
    try {
      const [raw, compat] = await Promise.all([h2Get(session, "/raw/a"), h2Get(session, "/other")]);
      expect(raw).toMatchObject({ status: 200, body: { protocol: "raw", path: "/raw/a" } });
      expect(compat).toMatchObject({ status: 200, body: { protocol: "2.0", path: "/other" } });
      expect(taken).toEqual(["/raw/a"]);
      expect(started).toEqual(["/other"]);
    } finally {
      session.close();
    }
  });

  it("keeps the compat layer's own handling for declined streams (Expect: 100-continue)", async () => {
    const session = h2Connect(base);
    try {
      const reply = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        const stream = session.request({ ":path": "/expects", ":method": "POST", expect: "100-continue" });
        let continued = false;
        stream.on("continue", () => {
          continued = true;
          stream.end("body");
        });
        stream.on("response", (h) => resolve({ status: Number(h[":status"]), continued }));
        stream.on("error", reject);
        stream.resume();
      });
      expect(reply).toEqual({ status: 200, continued: true });
    } finally {
      session.close();
    }
  });

  it("never sees HTTP/1.1 requests", async () => {
    taken.length = 0;
    const reply = await h1Get(server.port, "/raw/h1", { agent: false });
    expect(reply).toMatchObject({ status: 200, body: { protocol: "1.1", path: "/raw/h1" } });
    expect(taken).toEqual([]);
  });
});

describe("TLS: ALPN picks h2 or http/1.1 on one port", () => {
  let dir: string;
  let ca: Buffer;
  let server: ListeningServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "listen-tls-"));
    const [keyFile, certFile] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", keyFile, "-out", certFile], {
      stdio: "ignore",
    });
    ca = readFileSync(certFile);
    server = await listen({ port: 0, handler, streamHandler, tls: { cert: ca, key: readFileSync(keyFile) } });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves HTTP/2 over TLS", async () => {
    const session = h2Connect(`https://localhost:${server.port}`, { ca });
    try {
      const replies = await Promise.all([h2Get(session, "/a"), h2Get(session, "/b")]);
      for (const reply of replies) expect(reply).toMatchObject({ status: 200, body: { protocol: "2.0" } });
      expect(session.alpnProtocol).toBe("h2");
    } finally {
      session.close();
    }
  });

  it("hands HTTP/2 streams to the stream handler first", async () => {
    const session = h2Connect(`https://localhost:${server.port}`, { ca });
    try {
      expect(await h2Get(session, "/raw/tls")).toMatchObject({ status: 200, body: { protocol: "raw", path: "/raw/tls" } });
    } finally {
      session.close();
    }
  });

  it("serves HTTPS/1.1 on the same port", async () => {
    const reply = await h1Get(server.port, "/tls1", { host: "localhost", ca, agent: false });
    expect(reply).toMatchObject({ status: 200, body: { protocol: "1.1", path: "/tls1" } });
  });
});

describe("close()", () => {
  const servers: ListeningServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function waitStarted(path: string) {
    while (!started.includes(path)) await sleep(5);
  }

  it("lets in-flight HTTP/1.1 and HTTP/2 requests finish, then resolves", async () => {
    const server = await listen({ port: 0, host: "127.0.0.1", handler });
    servers.push(server);
    const session = h2Connect(`http://127.0.0.1:${server.port}`);
    const agent = new http.Agent({ keepAlive: true });
    const h1 = h1Get(server.port, "/slow-h1?delay=400", { agent });
    const h2 = h2Get(session, "/slow-h2?delay=400");
    await Promise.all([waitStarted("/slow-h1?delay=400"), waitStarted("/slow-h2?delay=400")]);

    const t0 = Date.now();
    let closedAt = 0;
    const closing = server.close().then(() => (closedAt = Date.now()));
    // No new connections once closing.
    await expect(h1Get(server.port, "/late", { agent: false })).rejects.toThrow(/ECONNREFUSED/);

    const [r1, r2] = await Promise.all([h1, h2]);
    expect(r1).toMatchObject({ status: 200, body: { protocol: "1.1" } });
    expect(r2).toMatchObject({ status: 200, body: { protocol: "2.0" } });
    await closing;
    expect(closedAt - t0).toBeGreaterThanOrEqual(300);
    // Keep-alive and h2 connections were closed by the server, well before the grace period.
    expect(closedAt - t0).toBeLessThan(5_000);
    agent.destroy();
    session.destroy();
  });

  it("destroys what is still open after closeGraceMs", async () => {
    const server = await listen({ port: 0, host: "127.0.0.1", handler, closeGraceMs: 300 });
    servers.push(server);
    const session = h2Connect(`http://127.0.0.1:${server.port}`);
    const stuckH2 = h2Get(session, "/stuck-h2?delay=60000");
    const stuckH1 = h1Get(server.port, "/stuck-h1?delay=60000", { agent: false });
    await Promise.all([waitStarted("/stuck-h2?delay=60000"), waitStarted("/stuck-h1?delay=60000")]);

    const t0 = Date.now();
    await server.close();
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5_000);
    await expect(stuckH1).rejects.toThrow();
    await expect(stuckH2).rejects.toThrow();
    session.destroy();
  });
});
