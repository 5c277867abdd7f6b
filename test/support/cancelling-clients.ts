// Clients that start a call and cancel it, on every protocol and at a point
// of the call's life chosen by its number: before the body is out, mid-body,
// while queued for inference, or while it runs. Each kind shares its
// connections, and close() releases them all, so a test can tell the
// server's leftovers from its own.
import * as http from "node:http";
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { PredictBatchRequestSchema, PredictionService, PredictRequestSchema } from "../../gen/prediction/v1/prediction_service_pb.js";
import { applications, VALID } from "./applications.js";
import { PREDICT_BATCH_PATH } from "./connect-json.js";
import { connectImageStream, grpcJsImageStream, imageMessages, type ImageStream } from "./image-streams.js";
import { grpcFrame, h2cSession } from "./raw-grpc.js";

export interface CancellingKind {
  name: string;
  /** Starts call number `i`, cancels it, and settles once the client has seen it end. */
  run(i: number): Promise<void>;
}

/** Resolves at the i-th of five points: this turn, next turn, 1 ms, 3 ms or 8 ms later. */
export function cancelPoint(i: number): Promise<void> {
  switch (i % 5) {
    case 0:
      return Promise.resolve();
    case 1:
      return new Promise((r) => setImmediate(r));
    default:
      return new Promise((r) => setTimeout(r, [1, 3, 8][(i % 5) - 2]));
  }
}

const BATCH = create(PredictBatchRequestSchema, { inputs: applications(50) });
const PREDICT = create(PredictRequestSchema, VALID);
const BATCH_FRAME = grpcFrame(toBinary(PredictBatchRequestSchema, BATCH));

/** Every kind, sharing connections per kind; close() ends them. */
export function cancellingClients(baseUrl: string, image: Uint8Array, headers: Record<string, string>): { kinds: CancellingKind[]; close(): void } {
  const h2 = new Http2SessionManager(baseUrl);
  const agent = new http.Agent({ keepAlive: true });
  // A subchannel of its own, so close() closes the connection (grpc-js otherwise keeps it in a shared pool).
  const grpcJs = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
  let raw: http2.ClientHttp2Session | undefined;
  const rawSession = () => {
    if (!raw || raw.closed || raw.destroyed) raw = h2cSession(baseUrl);
    return raw;
  };

  const connectUnary = (name: string, transport: Transport): CancellingKind => {
    const client = createClient(PredictionService, transport);
    return {
      name,
      async run(i) {
        const abort = new AbortController();
        const call = i % 2 === 0 ? client.predictBatch(BATCH, { headers, signal: abort.signal }) : client.predict(PREDICT, { headers, signal: abort.signal });
        await cancelPoint(i);
        abort.abort();
        await call.catch(() => {});
      },
    };
  };

  const streamKind = (name: string, open: () => ImageStream): CancellingKind => ({
    name,
    async run(i) {
      const stream = open();
      const [header, ...chunks] = imageMessages(`img-${i}`, image, { chunkSize: Math.ceil(image.length / 2) });
      stream.send(header!, chunks[0]!);
      await cancelPoint(i);
      stream.cancel();
      await stream.ended;
    },
  });

  const kinds: CancellingKind[] = [
    connectUnary("connect-node gRPC (h2c)", createGrpcTransport({ baseUrl, sessionManager: h2 })),
    connectUnary("Connect binary (HTTP/2)", createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager: h2 })),
    connectUnary("Connect JSON (HTTP/1.1)", createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } })),
    connectUnary("gRPC-Web binary (HTTP/1.1)", createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent } })),
    connectUnary("gRPC-Web binary (HTTP/2)", createGrpcWebTransport({ baseUrl, httpVersion: "2", sessionManager: h2 })),
    {
      name: "grpc-js unary",
      async run(i) {
        const md = new grpc.Metadata();
        for (const [k, v] of Object.entries(headers)) md.set(k, v);
        let done!: () => void;
        const ended = new Promise<void>((r) => (done = r));
        const call = grpcJs.makeUnaryRequest(
          PREDICT_BATCH_PATH,
          (m: Uint8Array) => Buffer.from(m),
          (b: Buffer) => b,
          toBinary(PredictBatchRequestSchema, BATCH),
          md,
          () => done(),
        );
        await cancelPoint(i);
        call.cancel();
        await ended;
      },
    },
    {
      name: "raw gRPC, half a frame then RST_STREAM(CANCEL)",
      async run(i) {
        const stream = rawSession().request({ ":method": "POST", ":path": PREDICT_BATCH_PATH, "content-type": "application/grpc", te: "trailers", ...headers });
        stream.on("error", () => {});
        const closed = new Promise<void>((r) => stream.once("close", () => r()));
        stream.write(BATCH_FRAME.subarray(0, BATCH_FRAME.length >> 1));
        await cancelPoint(i);
        stream.close(http2.constants.NGHTTP2_CANCEL);
        await closed;
      },
    },
    streamKind("PredictImage, grpc-js", () => grpcJsImageStream(grpcJs, headers)),
    streamKind("PredictImage, connect-node gRPC (h2c)", () => connectImageStream(createGrpcTransport({ baseUrl, sessionManager: h2 }), headers)),
    streamKind("PredictImage, Connect (HTTP/2)", () => connectImageStream(createConnectTransport({ baseUrl, httpVersion: "2", sessionManager: h2 }), headers)),
  ];
  return {
    kinds,
    close() {
      h2.abort();
      agent.destroy();
      grpcJs.close();
      raw?.destroy();
    },
  };
}
