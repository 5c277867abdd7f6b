/**
 * Serve one `NodeHandler` (what `connectNodeAdapter()` returns) on one
 * TCP port for every client we have: gRPC over HTTP/2, and gRPC-Web / Connect
 * over HTTP/1.1 or HTTP/2.
 *
 * - Cleartext: Node's `http2.createServer` cannot fall back to HTTP/1.1, so we
 *   accept connections on a plain `net.Server` and route each one on its first
 *   bytes: the HTTP/2 client preface goes to an http2 server, anything else to
 *   an http server.
 * - TLS: ALPN already negotiates h2 vs http/1.1, so a single
 *   `http2.createSecureServer({ allowHTTP1: true })` does the job.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type * as tls from "node:tls";
import { DEFAULT_LIMITS, H2_SESSION_WINDOW, h1ServerOptions, h2ServerOptions, type ConnectionLimits } from "./connection-limits.js";
import { IdleSessions } from "./idle-sessions.js";
import type { NodeHandler } from "./node-handler.js";

/** Takes an HTTP/2 stream itself (returns true), or leaves it to become a request for `handler`. */
export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

export interface ListenOptions {
  /** 0 picks a free port; read the real one from `ListeningServer.port`. */
  port: number;
  host?: string;
  handler: NodeHandler;
  /** Sees each HTTP/2 stream before Node's compatibility layer makes a request of it. */
  streamHandler?: StreamHandler;
  /**
   * PEM cert and key: serve TLS, with h2 / http/1.1 chosen by ALPN. With
   * `clientCa`, a client must present a certificate signed by it, or the
   * handshake fails.
   */
  tls?: { cert: string | Buffer; key: string | Buffer; clientCa?: string | Buffer };
  /** Idle timeout, streams, headers (connection-limits.ts). Default DEFAULT_LIMITS. */
  limits?: ConnectionLimits;
  http2Options?: http2.ServerOptions;
  /** How long `close()` waits for in-flight requests before destroying connections. Default 10 s. */
  closeGraceMs?: number;
  /** Cleartext only: how long a new connection may take to send enough bytes to be routed. Default 10 s. */
  sniffTimeoutMs?: number;
  /** Server-level errors (e.g. EMFILE on accept). Per-connection errors are routine and ignored. Default: console.error. */
  onError?: (err: Error) => void;
}

export interface ListeningServer {
  /** The port actually bound. */
  port: number;
  /** Stop accepting, let in-flight requests finish (up to `closeGraceMs`), then resolve. */
  close(): Promise<void>;
  /** Client connections open now (any protocol), and how many of them are HTTP/2 sessions. */
  open(): { connections: number; http2Sessions: number };
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

// A field value padded with spaces reaches the handler, which strips the
// padding as HTTP/1.1's parser does (RFC 9110 5.5), instead of being dropped
// by nghttp2 (RFC 9113 8.2.1): one rule on both versions. Node >= 24.2 has
// this option; older Node ignores it and still drops such a field.
export const H2_FIELDS: http2.ServerOptions & { strictFieldWhitespaceValidation?: boolean } = { strictFieldWhitespaceValidation: false };

const ignore = () => {};

export async function listen(options: ListenOptions): Promise<ListeningServer> {
  const closeGraceMs = options.closeGraceMs ?? 10_000;
  const onError = options.onError ?? ((err: Error) => console.error("listen:", err));
  const limits = options.limits ?? DEFAULT_LIMITS;
  const h1Options = h1ServerOptions(limits);
  const h2Options = { ...h2ServerOptions(limits), ...H2_FIELDS, ...options.http2Options };
  const idle = new IdleSessions(limits.idleTimeoutMs);

  // Everything close() must drain or, after the grace period, destroy.
  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  // HTTP/1.1 connections, tracked per connection rather than per response:
  // listeners on every response are a large share of a small call's CPU
  // (docs/design.md, "HTTP/1.1").
  const h1Sockets = new Set<net.Socket>();
  let closing = false;

  const handler: NodeHandler = (req, res) => {
    if (closing && res instanceof http.ServerResponse) endAfter(res);
    options.handler(req, res);
  };

  /** While closing: tell the HTTP/1.1 client not to reuse the connection, and close it once the answer is out. */
  const endAfter = (res: http.ServerResponse) => {
    if (!res.headersSent) res.setHeader("Connection", "close");
    res.once("finish", () => setImmediate(closeIdleH1));
  };

  const trackH1 = (socket: net.Socket) => {
    h1Sockets.add(socket);
    socket.once("close", () => h1Sockets.delete(socket));
  };

  const trackSocket = (socket: net.Socket) => {
    // Resets, TLS garbage etc. must not become an uncaught 'error'.
    socket.on("error", ignore);
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      sniffing.delete(socket);
    });
  };

  const trackSession = (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    idle.track(session);
    session.setLocalWindowSize(H2_SESSION_WINDOW);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
  };

  let server: net.Server;
  let closeIdleH1: () => void;
  let stopH1: () => void;

  if (options.tls) {
    const { cert, key, clientCa } = options.tls;
    const clientAuth = clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {};
    const secure = http2.createSecureServer({ ...h2Options, cert, key, ...clientAuth, allowHTTP1: true }, handler);
    // With allowHTTP1 the secure server runs Node's HTTP/1.1 connection code,
    // which reads these limits from the server object.
    Object.assign(secure, h1Options);
    secure.on("connection", trackSocket);
    secure.on("secureConnection", (s: tls.TLSSocket) => {
      s.on("error", ignore);
      if (s.alpnProtocol !== "h2") trackH1(s);
    });
    secure.on("session", trackSession);
    if (options.streamHandler) takeStreamsFirst(secure, options.streamHandler);
    server = secure;
    // Present at runtime (Node >= 18.2) but missing from @types/node's Http2SecureServer.
    closeIdleH1 = () => (secure as unknown as Pick<http.Server, "closeIdleConnections">).closeIdleConnections();
    stopH1 = ignore; // secure.close() below already closes idle HTTP/1.1 connections
  } else {
    const h2 = http2.createServer(h2Options, handler);
    const h1 = http.createServer(h1Options, handler);
    h1.maxHeadersCount = h1Options.maxHeadersCount;
    h2.on("session", trackSession);
    if (options.streamHandler) takeStreamsFirst(h2, options.streamHandler);
    const sniffTimeoutMs = options.sniffTimeoutMs ?? 10_000;
    // noDelay: RPCs are small request/response exchanges; Nagle only adds latency.
    server = net.createServer({ noDelay: true }, (socket) => {
      trackSocket(socket);
      sniffing.add(socket);
      sniff(socket, sniffTimeoutMs, (isH2) => {
        sniffing.delete(socket);
        if (isH2) {
          h2.emit("connection", socket);
        } else {
          trackH1(socket);
          h1.emit("connection", socket);
          // The HTTP/1 parser gets the unshifted bytes through 'data'; sniffing
          // left the stream in paused mode, so switch it to flowing explicitly.
          socket.resume();
        }
      });
    });
    // h1/h2 never listen themselves. http.Server only starts tracking
    // connections (which enforces headersTimeout/requestTimeout and makes
    // closeIdleConnections() work) on its 'listening' event.
    server.once("listening", () => h1.emit("listening"));
    closeIdleH1 = () => h1.closeIdleConnections();
    stopH1 = () => h1.close(); // closes idle connections, stops the timeout checker
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", onError);

  let closed: Promise<void> | undefined;
  return {
    port: (server.address() as net.AddressInfo).port,
    open: () => ({ connections: sockets.size, http2Sessions: sessions.size }),
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        const grace = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, closeGraceMs);
        // net.Server.close() stops accepting and calls back once every
        // connection it accepted has closed, whichever protocol it spoke.
        server.close(() => {
          clearTimeout(grace);
          idle.stop();
          resolve();
        });
        // No request has been read from these yet.
        for (const socket of sniffing) socket.destroy();
        // GOAWAY: no new streams; the session ends when in-flight streams do.
        for (const session of sessions) session.close();
        // Tell HTTP/1.1 clients with a pending response not to reuse the connection.
        // (Node keeps a connection's response in progress as its _httpMessage.)
        for (const socket of h1Sockets) {
          const res = (socket as { _httpMessage?: unknown })._httpMessage;
          if (res instanceof http.ServerResponse && !res.writableFinished) endAfter(res);
        }
        stopH1();
      });
      return closed;
    },
  };
}

/**
 * Puts `take` in front of Node's compatibility layer. Node implements that
 * layer as the server's 'stream' listener it adds along with the request
 * handler; it is moved behind `take`, and gets only the streams `take`
 * declines, so those keep every behaviour of the compat API (CONNECT,
 * Expect, ...).
 */
function takeStreamsFirst(server: http2.Http2Server | http2.Http2SecureServer, take: StreamHandler): void {
  const compat = server.listeners("stream") as ((...args: unknown[]) => void)[];
  if (compat.length === 0) throw new Error("takeStreamsFirst: the server has no request handler");
  server.removeAllListeners("stream");
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    if (take(stream, headers)) return;
    for (const listener of compat) listener.call(server, stream, headers, flags, rawHeaders);
  });
}

/**
 * Read the first bytes of a connection without consuming them: paused-mode
 * reads, then unshift, so the protocol server sees the stream from byte 0.
 * (A 'data' listener would switch the socket to flowing mode and bytes could
 * be delivered to nobody before the HTTP/2 session takes over the socket.)
 */
function sniff(socket: net.Socket, timeoutMs: number, route: (isH2: boolean) => void): void {
  let head = Buffer.alloc(0);
  // A deadline from accept, not an idle timer: a client trickling bytes cannot hold it open.
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const onEnd = () => socket.destroy(); // closed before we could tell the protocol
  const stop = () => {
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
    socket.off("close", stop);
  };
  function onReadable() {
    const chunk: Buffer | null = socket.read();
    if (chunk === null) return;
    head = Buffer.concat([head, chunk]);
    const n = Math.min(head.length, H2_PREFACE.length);
    const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    // Still a prefix of the preface: it could yet be HTTP/2, wait for more.
    if (isH2 && n < H2_PREFACE.length) return;
    stop();
    socket.unshift(head);
    route(isH2);
  }
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
  socket.once("close", stop);
}
