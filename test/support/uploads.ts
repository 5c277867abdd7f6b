// A large request body sent as a client does, chunk by chunk as the
// connection takes it, recording how much of it had gone when the answer came.
import * as http from "node:http";
import * as http2 from "node:http2";
import type { Writable } from "node:stream";
import { h2Response, type HttpVersion, type RawResponse } from "./raw-http.js";

const CHUNK = 64 * 1024;

export interface Upload {
  response: RawResponse;
  /** Body bytes handed to the connection when the answer's headers arrived. */
  sentAtAnswer: number;
  /** Milliseconds from the request to the answer's headers. */
  answerMs: number;
}

/** POSTs `body` on a connection of its own; resolves once the answer is in and the upload over (sent, or stopped by the server). */
export function upload(baseUrl: string, version: HttpVersion, path: string, headers: Record<string, string>, body: Uint8Array): Promise<Upload> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    let sentAtAnswer = -1;
    let answerMs = 0;
    let sent = () => 0;
    const answered = () => {
      sentAtAnswer = sent();
      answerMs = performance.now() - start;
    };
    const done = (response: RawResponse) => resolve({ response, sentAtAnswer, answerMs });
    if (version === "2") {
      const session = http2.connect(baseUrl);
      session.on("error", () => {});
      const stream = session.request({ ":method": "POST", ":path": path, ...headers });
      h2Response(stream, answered)
        .then(done, reject)
        .finally(() => session.destroy());
      sent = pump(stream, body);
      return;
    }
    // Node's client stops sending once it has an answer that closes the connection (and may report EPIPE for the rest).
    const request = http.request(baseUrl + path, { method: "POST", headers: { ...headers, "content-length": String(body.length) }, agent: false });
    let response: (() => RawResponse) | undefined;
    request.on("error", () => {});
    request.on("close", () => (response ? done(response()) : reject(new Error("closed without an answer"))));
    request.on("response", (res) => {
      answered();
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => {});
      response = () => ({ status: res.statusCode ?? 0, headers: res.headers, trailers: res.trailers, body: Buffer.concat(chunks) });
    });
    sent = pump(request, body);
  });
}

/** Writes `body` in chunks as fast as `sink` takes them; returns how many bytes it has written so far. */
function pump(sink: Writable, body: Uint8Array): () => number {
  let offset = 0;
  const next = () => {
    while (offset < body.length && !sink.destroyed) {
      const end = Math.min(offset + CHUNK, body.length);
      const more = sink.write(body.subarray(offset, end));
      offset = end;
      if (!more) return void sink.once("drain", next);
    }
    if (offset >= body.length && !sink.destroyed) sink.end();
  };
  next();
  return () => offset;
}
