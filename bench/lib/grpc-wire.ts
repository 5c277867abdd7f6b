// gRPC, gRPC-Web and Connect on the wire, by hand: framing, and single real
// calls used to verify a target before (and after) every load run, since
// h2load only sees HTTP status codes and gRPC errors travel in trailers.
import * as http from "node:http";
import * as http2 from "node:http2";
import { splitFrames } from "../../test/support/grpc-frames.js";

export interface GrpcCallResult {
  httpStatus: number;
  /** grpc-status from trailers, or from the headers of a trailers-only answer. */
  grpcStatus?: number;
  grpcMessage?: string;
  /** The payloads of the response's data frames. */
  messages: Buffer[];
  error?: string;
}

/** One unary gRPC call over h2c on a fresh session; never throws. */
export async function grpcCall(port: number, path: string, body: Buffer, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<GrpcCallResult> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  // Errors surface through the call's result; a late one must not crash the bench.
  session.on("error", () => {});
  try {
    return await grpcCallOn(session, path, body, headers, timeoutMs);
  } finally {
    session.close();
  }
}

export function grpcCallOn(
  session: http2.ClientHttp2Session,
  path: string,
  body: Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<GrpcCallResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: GrpcCallResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.off("error", onSessionError);
      resolve(r);
    };
    const timer = setTimeout(() => {
      finish({ httpStatus: 0, messages: [], error: `no answer within ${timeoutMs} ms` });
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    const onSessionError = (e: Error) => finish({ httpStatus: 0, messages: [], error: e.message });
    session.on("error", onSessionError);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => (head = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (d: Buffer) => chunks.push(d));
    stream.on("error", (e) => finish({ httpStatus: Number(head[":status"] ?? 0), messages: [], error: e.message }));
    stream.on("close", () => {
      const source = trailers["grpc-status"] !== undefined ? trailers : head;
      const status = source["grpc-status"];
      const message = source["grpc-message"];
      finish({
        httpStatus: Number(head[":status"] ?? 0),
        grpcStatus: status === undefined ? undefined : Number(status),
        grpcMessage: typeof message === "string" ? decodeURIComponent(message) : undefined,
        messages: splitFrames(Buffer.concat(chunks)).map((f) => f.data),
      });
    });
    stream.end(body);
  });
}

export interface HttpCallResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  error?: string;
}

/** One HTTP/1.1 POST (Connect or gRPC-Web); never throws. */
export function httpPost(port: number, path: string, body: Buffer, headers: Record<string, string>, timeoutMs = 10_000): Promise<HttpCallResult> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: "127.0.0.1", port, path, method: "POST", headers: { ...headers, "content-length": String(body.length) }, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", (e) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.alloc(0), error: e.message }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: e.message }));
    req.end(body);
  });
}

/** gRPC-Web answer: the message frames and the grpc-status from the trailer frame (flag 0x80) or the headers. */
export function parseGrpcWeb(res: HttpCallResult): { grpcStatus?: number; grpcMessage?: string; messages: Buffer[] } {
  const frames = splitFrames(res.body);
  const messages = frames.filter((f) => (f.flags & 0x80) === 0).map((f) => f.data);
  const fields: Record<string, string> = {};
  for (const f of frames.filter((f) => (f.flags & 0x80) !== 0)) {
    for (const line of f.data.toString("utf8").split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) fields[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
  }
  const status = fields["grpc-status"] ?? (res.headers["grpc-status"] as string | undefined);
  const message = fields["grpc-message"] ?? (res.headers["grpc-message"] as string | undefined);
  return { grpcStatus: status === undefined ? undefined : Number(status), grpcMessage: message, messages };
}

/** GET over HTTP/1.1 (for /metrics); throws on failure. */
export function httpGet(port: number, path: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString("utf8")) : reject(new Error(`GET ${path} answered ${res.statusCode}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}
