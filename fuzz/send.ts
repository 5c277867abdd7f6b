// Sends one fuzz case and reads the answer the way its protocol defines it:
// the status code a client would see, the HTTP status, and whether the
// stream was reset or nothing came back in time.
import type * as http2 from "node:http2";
import { gunzipSync } from "node:zlib";
import { Code } from "@connectrpc/connect";
import { httpPost, parseGrpcWeb } from "../bench/lib/grpc-wire.js";
import { grpcFrame, splitFrames } from "../test/support/grpc-frames.js";
import { codeName } from "../src/policy/call-log.js";
import { rawGrpc } from "../test/support/raw-grpc.js";
import type { FuzzCase } from "./cases.js";

export interface Reply {
  httpStatus: number;
  /** The status code name (e.g. "INVALID_ARGUMENT"), or undefined if the answer carried none. */
  code?: string;
  /** A reset stream or connection, with what the client saw. */
  reset?: string;
  /** No answer within the time allowed. */
  hang: boolean;
}

const grpcName = (n: number | undefined) => (n === undefined ? undefined : n >= 0 && n <= 16 ? codeName(n as Code) : `CODE_${n}`);

/** What a gRPC client makes of an HTTP error without grpc-status (the gRPC HTTP-to-status mapping). */
function grpcCodeOfHttp(status: number): Code {
  const mapped: Record<number, Code> = {
    400: Code.Internal,
    401: Code.Unauthenticated,
    403: Code.PermissionDenied,
    404: Code.Unimplemented,
    429: Code.Unavailable,
    502: Code.Unavailable,
    503: Code.Unavailable,
    504: Code.Unavailable,
  };
  return mapped[status] ?? Code.Unknown;
}

/** The gRPC status, or for an HTTP error that carries none, the one a client derives from the HTTP status. */
function grpcCode(httpStatus: number, grpcStatus: number | undefined): string | undefined {
  if (grpcStatus === undefined && httpStatus !== 200 && httpStatus !== 0) return grpcName(grpcCodeOfHttp(httpStatus));
  return grpcName(grpcStatus);
}

/** Connect's error body ({"code":"invalid_argument",...}) or, in a stream, its end-of-stream message. */
function connectCode(httpStatus: number, body: Buffer, streaming: boolean): string | undefined {
  const json = (bytes: Buffer): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  if (httpStatus !== 200) {
    const code = json(body)?.code;
    return typeof code === "string" ? code.toUpperCase() : undefined;
  }
  if (!streaming) return "OK";
  const end = splitFrames(body).find((f) => (f.flags & 0x02) !== 0);
  if (!end) return undefined;
  const error = json(end.data)?.error as { code?: string } | undefined;
  return error?.code ? error.code.toUpperCase() : "OK";
}

const gunzip = (b: Uint8Array): Buffer => {
  try {
    return gunzipSync(b);
  } catch {
    return Buffer.from(b);
  }
};

/** The answer's bytes as sent before compression: a gzipped body, or gzipped envelopes (flag 0x01), inflated. */
function inflated(c: FuzzCase, headers: Record<string, string | string[] | undefined>, body: Buffer): Buffer {
  const whole = headers["content-encoding"] === "gzip" ? gunzip(body) : body;
  if (c.protocol === "connect" && !c.path.streaming) return whole;
  return Buffer.concat(
    splitFrames(whole).map((f) => ((f.flags & 0x01) !== 0 ? grpcFrame(gunzip(f.data), { flags: f.flags & ~0x01 }) : grpcFrame(f.data, { flags: f.flags }))),
  );
}

function codeOf(c: FuzzCase, httpStatus: number, headers: Record<string, string | string[] | undefined>, raw: Buffer, grpcStatus?: number): string | undefined {
  const body = inflated(c, headers, raw);
  switch (c.protocol) {
    case "grpc":
      return grpcCode(httpStatus, grpcStatus);
    case "grpc-web":
      return grpcCode(httpStatus, parseGrpcWeb({ status: httpStatus, headers, body }).grpcStatus);
    case "connect":
      return connectCode(httpStatus, body, c.path.streaming);
  }
}

export async function sendCase(
  c: FuzzCase,
  target: { port: number; session: () => http2.ClientHttp2Session },
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<Reply> {
  const all = { ...c.body.headers, ...headers };
  if (c.http === "h1") {
    const r = await httpPost(target.port, c.path.path, Buffer.concat(c.body.pieces), all, timeoutMs);
    const hang = r.error?.startsWith("no answer within") ?? false;
    return { httpStatus: r.status, code: codeOf(c, r.status, r.headers, r.body), reset: r.error && !hang ? r.error : undefined, hang };
  }
  const r = await rawGrpc(target.session(), { path: c.path.path, frames: c.body.pieces, headers: all, timeoutMs });
  const reset = r.rstCode !== 0 ? `RST_STREAM ${r.rstCode}` : r.streamError && !r.timedOut ? r.streamError.message : undefined;
  return { httpStatus: r.httpStatus, code: codeOf(c, r.httpStatus, { ...r.headers, ...r.trailers }, r.body, r.grpcStatus), reset, hang: r.timedOut };
}
