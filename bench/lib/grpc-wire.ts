// gRPC-Web and Connect over HTTP/1.1 by hand: single real calls used to
// verify a target before (and after) every load run, since the generators
// only see HTTP status codes and gRPC-Web errors travel in a trailer frame;
// and GET /metrics. gRPC over h2c goes through test/support/raw-grpc.ts.
import * as http from "node:http";
import { splitFrames } from "../../test/support/grpc-frames.js";

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
