// Any request by hand, over HTTP/1.1 (node:http, a fresh connection each) or
// HTTP/2 (node:http2 on a given session), and what came back, read into the
// status an RPC client of that protocol would report.
import type { Code } from "@connectrpc/connect";
import { codeFromHttpStatus, codeFromString } from "@connectrpc/connect/protocol-connect";
import * as http from "node:http";
import type * as http2 from "node:http2";
import { splitFrames } from "./grpc-frames.js";

export type HttpVersion = "1.1" | "2";
export type RpcProtocol = "grpc" | "grpc-web" | "connect" | "connect-stream";

export interface RawRequest {
  path: string;
  method?: string;
  headers: Record<string, string>;
  /** The whole body, or "withheld": headers only, the body never sent (the request stays open until the answer). */
  body: Uint8Array | "withheld";
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Trailers; empty when there were none (e.g. gRPC trailers-only). */
  trailers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request; resolves once its answer is complete, whatever then happens to the upload. */
export function rawRequest(baseUrl: string, version: HttpVersion, req: RawRequest, session?: http2.ClientHttp2Session): Promise<RawResponse> {
  if (version === "2") {
    if (!session) throw new Error("HTTP/2 needs a session");
    return h2Request(session, req);
  }
  return new Promise((resolve, reject) => {
    const request = http.request(baseUrl + req.path, { method: req.method ?? "POST", headers: req.headers, agent: false });
    request.on("error", reject);
    request.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) });
        request.destroy();
      });
    });
    if (req.body === "withheld") request.flushHeaders();
    else request.end(req.body);
  });
}

function h2Request(session: http2.ClientHttp2Session, req: RawRequest): Promise<RawResponse> {
  const stream = session.request({ ":method": req.method ?? "POST", ":path": req.path, ...req.headers }, { endStream: req.method === "GET" });
  const response = h2Response(stream);
  if (req.body !== "withheld" && req.method !== "GET") stream.end(req.body);
  return response;
}

/** The answer on an HTTP/2 client stream, once the stream has closed; `onAnswer` is told when its headers arrive. */
export function h2Response(stream: http2.ClientHttp2Stream, onAnswer: () => void = () => {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let trailers: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      onAnswer();
      status = Number(h[":status"]);
      headers = h;
    });
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => {});
    stream.on("close", () => {
      if (status === 0) reject(new Error(`stream closed without an answer (RST_STREAM ${stream.rstCode})`));
      else resolve({ status, headers, trailers, body: Buffer.concat(chunks) });
    });
  });
}

/** What a client of `protocol` would take from this response: the status code (0 for OK) and where it was found. */
export function rpcStatusOf(protocol: RpcProtocol, res: RawResponse): { code: Code | 0 | undefined; trailersOnly: boolean } {
  if (protocol === "grpc" || protocol === "grpc-web") {
    const inHeaders = res.headers["grpc-status"];
    if (inHeaders !== undefined) return { code: Number(inHeaders) as Code, trailersOnly: true };
    const inTrailers = res.trailers["grpc-status"] ?? grpcWebTrailer(res)?.["grpc-status"];
    return { code: inTrailers === undefined ? undefined : (Number(inTrailers) as Code), trailersOnly: false };
  }
  if (protocol === "connect-stream") {
    const end = splitFrames(res.body).find((e) => e.flags & 0b10);
    if (!end) return { code: undefined, trailersOnly: false };
    const error = JSON.parse(end.data.toString("utf8")).error;
    return { code: error ? codeFromString(error.code) : 0, trailersOnly: false };
  }
  if (res.status === 200) return { code: 0, trailersOnly: false };
  let body: { code?: string } = {};
  try {
    body = JSON.parse(res.body.toString("utf8"));
  } catch {
    // Not a Connect error body: the HTTP status says it.
  }
  return { code: (body.code ? codeFromString(body.code) : undefined) ?? codeFromHttpStatus(res.status), trailersOnly: false };
}

/** The trailer frame of a gRPC-Web body (base64 for grpc-web-text), parsed. */
function grpcWebTrailer(res: RawResponse): Record<string, string> | undefined {
  const text = String(res.headers["content-type"] ?? "").includes("grpc-web-text");
  const body = text ? Buffer.from(res.body.toString("latin1"), "base64") : res.body;
  const frame = splitFrames(body).find((e) => e.flags & 0x80);
  if (!frame) return undefined;
  const fields: Record<string, string> = {};
  for (const line of frame.data.toString("latin1").split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) fields[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return fields;
}
