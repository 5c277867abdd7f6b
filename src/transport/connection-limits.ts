// What one client connection may hold or send, as Node server options for
// HTTP/1.1 and HTTP/2. Every limit has a safe default here; config.ts reads
// the operator's values.
import type * as http2 from "node:http2";

export interface ConnectionLimits {
  /** Close an HTTP/2 session with no open stream, or an HTTP/1.1 keep-alive socket with no request, after this long. */
  idleTimeoutMs: number;
  /** HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused. */
  maxConcurrentStreams: number;
  /**
   * Bytes of request headers: HTTP/1.1 header section, HTTP/2 header list
   * (name + value + 32 per field). HTTP/2 applies it once the client has
   * acknowledged our SETTINGS, and the protocol's 64 KiB before.
   */
  maxHeaderBytes: number;
  /** Header fields per request, pseudo-headers included for HTTP/2. */
  maxHeaders: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  idleTimeoutMs: 300_000,
  maxConcurrentStreams: 100,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
};

// Rapid reset (CVE-2023-44487) is handled below us: nghttp2 (Node >= 20.8.1)
// allows a session a burst of 1000 incoming RST_STREAMs, then 33 a second,
// and past that sends GOAWAY(INTERNAL_ERROR) and reads no more from it; the
// idle timeout then closes the socket. Node 20 always applies nghttp2's
// defaults; later Node lines expose them as streamResetBurst and
// streamResetRate, which must not be raised. Node's maxSessionInvalidFrames
// (1000) and maxSessionRejectedStreams (100, streams refused past
// maxConcurrentStreams) also end abusive sessions and stay at their defaults.

// HTTP/2 flow control. The protocol's default window is 64 KiB per stream
// and per connection: a 100 KB image upload then stalls a round trip waiting
// for WINDOW_UPDATE, and many concurrent calls share one 64 KiB connection
// window. Larger windows let a request arrive in one go; Node still bounds
// what a session may buffer (maxSessionMemory).
const H2_STREAM_WINDOW = 1 << 20; // 1 MiB
export const H2_SESSION_WINDOW = 16 << 20; // 16 MiB

export function h2ServerOptions(limits: ConnectionLimits): http2.ServerOptions {
  return {
    settings: {
      initialWindowSize: H2_STREAM_WINDOW,
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
    },
    maxHeaderListPairs: limits.maxHeaders,
  };
}

/** HTTP/1.1 limits, as http.Server properties. */
export function h1ServerOptions(limits: ConnectionLimits) {
  return {
    headersTimeout: 60_000,
    requestTimeout: 300_000,
    // Longer than common load balancers' idle timeout (60 s) by default: one
    // that reuses a connection we are closing surfaces ECONNRESET to clients.
    keepAliveTimeout: limits.idleTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
    // Node drops header fields past this count rather than refusing the request.
    maxHeadersCount: limits.maxHeaders,
  };
}
