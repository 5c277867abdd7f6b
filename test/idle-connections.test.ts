// IDLE_TIMEOUT_MS: an HTTP/2 session with no open stream, or an HTTP/1.1
// keep-alive socket with no request, is closed (HTTP/2: GOAWAY first). A
// session with a stream open stays, however quiet. Real listener, real
// sockets, a 300 ms timeout.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../src/transport/connection-limits.ts";
import { listen, type ListeningServer } from "../src/transport/listen.ts";
import type { NodeHandler } from "../src/transport/node-handler.ts";

const IDLE_MS = 300;
// The sweep runs every quarter period; the rest is scheduling slack on a shared machine.
const LATEST_MS = IDLE_MS + IDLE_MS / 4 + 400;

/** Answers 200 after `?delay=ms`. */
const handler: NodeHandler = (req, res) => {
  const delay = Number(new URL(req.url ?? "/", "http://x").searchParams.get("delay") ?? 0);
  const timer = setTimeout(() => res.end("done"), delay);
  res.on("close", () => clearTimeout(timer));
};

interface SessionEnd {
  goawayCode: number | undefined;
  /** ms from `since()` to the GOAWAY, and to the socket's close. */
  goawayAfterMs: number | undefined;
  closedAfterMs: number;
}

/** Watches a client session until it closes; `mark()` restarts the clock (e.g. when the last stream ends). */
function watch(session: http2.ClientHttp2Session) {
  let since = performance.now();
  let goaway: { code: number; at: number } | undefined;
  session.on("goaway", (code) => (goaway = { code, at: performance.now() }));
  session.on("error", () => {});
  const ended = new Promise<SessionEnd>((resolve) =>
    session.once("close", () => {
      const closedAt = performance.now();
      resolve({ goawayCode: goaway?.code, goawayAfterMs: goaway && goaway.at - since, closedAfterMs: closedAt - since });
    }),
  );
  return { ended, mark: () => (since = performance.now()), closed: () => session.closed || session.destroyed };
}

function get(session: http2.ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let status = 0;
    stream.on("response", (h) => (status = Number(h[":status"])));
    stream.on("error", reject);
    stream.on("end", () => resolve(status));
    stream.resume();
  });
}

describe(`IDLE_TIMEOUT_MS=${IDLE_MS}`, () => {
  let server: ListeningServer;
  let base: string;
  beforeAll(async () => {
    server = await listen({ port: 0, host: "127.0.0.1", handler, limits: { ...DEFAULT_LIMITS, idleTimeoutMs: IDLE_MS } });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => server.close());

  it("sends GOAWAY to an HTTP/2 session that never opens a stream, and its socket closes", async () => {
    const session = http2.connect(base);
    const w = watch(session);
    await new Promise((r) => session.once("connect", r));
    w.mark();
    const end = await w.ended;
    console.log(`idle h2 session: GOAWAY after ${end.goawayAfterMs?.toFixed(0)} ms, closed after ${end.closedAfterMs.toFixed(0)} ms`);
    expect(end.goawayCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(end.goawayAfterMs).toBeGreaterThanOrEqual(IDLE_MS - 5);
    expect(end.closedAfterMs).toBeLessThan(LATEST_MS);
  });

  it("closes a session once its last stream has been done for the idle period", async () => {
    const session = http2.connect(base);
    const w = watch(session);
    expect(await get(session, "/one")).toBe(200);
    expect(await get(session, "/two")).toBe(200);
    w.mark();
    const end = await w.ended;
    expect(end.goawayCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(end.goawayAfterMs).toBeGreaterThanOrEqual(IDLE_MS - 5);
    expect(end.closedAfterMs).toBeLessThan(LATEST_MS);
  });

  it("does not count PINGs as activity", async () => {
    const session = http2.connect(base);
    const w = watch(session);
    await new Promise((r) => session.once("connect", r));
    w.mark();
    const pinger = setInterval(() => {
      if (!w.closed()) session.ping(() => {});
    }, 50);
    try {
      const end = await w.ended;
      expect(end.goawayCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(end.closedAfterMs).toBeLessThan(LATEST_MS);
    } finally {
      clearInterval(pinger);
    }
  });

  it("keeps a session whose stream is open but quiet for four idle periods, then closes it", async () => {
    const session = http2.connect(base);
    const w = watch(session);
    const quietMs = 4 * IDLE_MS;
    const started = performance.now();
    expect(await get(session, `/quiet?delay=${quietMs}`)).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(quietMs - 5);
    // Still usable after the long quiet stream: no GOAWAY came while it was open.
    expect(w.closed()).toBe(false);
    expect(await get(session, "/after")).toBe(200);
    w.mark();
    const end = await w.ended;
    expect(end.goawayCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    expect(end.goawayAfterMs).toBeGreaterThanOrEqual(IDLE_MS - 5);
  });

  it("closes an idle HTTP/1.1 keep-alive socket", async () => {
    // A raw socket: Node's own client agent acts on the Keep-Alive header itself.
    const socket = net.connect(server.port, "127.0.0.1");
    let received = "";
    let answeredAt = 0;
    socket.on("data", (d) => {
      received += d.toString("latin1");
      if (received.endsWith("done")) answeredAt = performance.now();
    });
    const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())));
    socket.write("GET /h1 HTTP/1.1\r\nHost: x\r\n\r\n");
    const closedAfterMs = (await closed) - answeredAt;
    console.log(`idle HTTP/1.1 keep-alive socket closed ${closedAfterMs.toFixed(0)} ms after its answer`);
    expect(received).toMatch(/^HTTP\/1\.1 200 [\s\S]*keep-alive/i);
    expect(answeredAt).toBeGreaterThan(0);
    // Node closes it a second after the timeout its Keep-Alive header announced, so the client, told, closes first.
    expect(closedAfterMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(closedAfterMs).toBeLessThan(LATEST_MS + 1000);
  });

  it("keeps an HTTP/1.1 socket whose request takes longer than the idle period", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port: server.port, path: `/slow?delay=${3 * IDLE_MS}`, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
    });
    expect(status).toBe(200);
  });
});
