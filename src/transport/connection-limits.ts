// What one client connection may hold or send, as Node server options for
// HTTP/1.1 and HTTP/2. Every limit has a safe default here; config.ts reads
// the operator's values.
import type * as http2 from "node:http2";

export interface ConnectionLimits {
  /** Close an HTTP/2 session with no open stream, or an HTTP/1.1 keep-alive socket with no request, after this long. */
  idleTimeoutMs: number;
  /** HTTP/2 streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused. */
  maxConcurrentStreams: number;
  /** Bytes of request headers: HTTP/1.1 header section, HTTP/2 header list (name + value + 32 per field). */
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

/**
 * Options @types/node 20 does not declare yet. Node (>= 20.12) passes them to
 * nghttp2's reset rate limit, its defence against rapid reset
 * (CVE-2023-44487): past the burst, a session whose client keeps resetting
 * streams gets GOAWAY and is closed.
 */
interface RapidResetOptions {
  streamResetBurst: number;
  streamResetRate: number;
}

// nghttp2's own defaults, spelled out so that they are never lost to an
// override: 1000 resets at once, then 33 per second.
const STREAM_RESET_BURST = 1000;
const STREAM_RESET_RATE = 33;

// HTTP/2 flow control. The protocol's default window is 64 KiB per stream
// and per connection: a 100 KB image upload then stalls a round trip waiting
// for WINDOW_UPDATE, and many concurrent calls share one 64 KiB connection
// window. Larger windows let a request arrive in one go; Node still bounds
// what a session may buffer (maxSessionMemory).
const H2_STREAM_WINDOW = 1 << 20; // 1 MiB
export const H2_SESSION_WINDOW = 16 << 20; // 16 MiB

export function h2ServerOptions(limits: ConnectionLimits): http2.ServerOptions & RapidResetOptions {
  return {
    settings: {
      initialWindowSize: H2_STREAM_WINDOW,
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
    },
    maxHeaderListPairs: limits.maxHeaders,
    // Left at Node's defaults, which also end abusive sessions: maxSessionInvalidFrames (1000)
    // and maxSessionRejectedStreams (100, streams refused past maxConcurrentStreams).
    streamResetBurst: STREAM_RESET_BURST,
    streamResetRate: STREAM_RESET_RATE,
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
