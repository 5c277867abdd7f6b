// PredictImage streams driven step by step from a test, over real clients:
// @grpc/grpc-js (h2c) and connect-node (gRPC over HTTP/2, Connect over
// HTTP/2). The test writes messages when it chooses and reads answers one at a
// time, so it can wait for an answer before it sends the next image.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  PredictImageRequestSchema,
  PredictImageResponseSchema,
  PredictionService,
  type PredictImageRequest,
  type PredictImageResponse,
} from "../../gen/prediction/v1/prediction_service_pb.js";

export const PREDICT_IMAGE_PATH = "/prediction.v1.PredictionService/PredictImage";

/** How a stream ended: code 0 for OK. */
export interface StreamEnd {
  code: Code | 0;
  message: string;
}

export interface ImageStream {
  send(...messages: PredictImageRequest[]): void;
  /** Half-closes: the client sends nothing more. */
  end(): void;
  /** Aborts the call from the client side. */
  cancel(): void;
  /** The next answer, or undefined once the stream has ended. Rejects after `timeoutMs` without one. */
  next(timeoutMs?: number): Promise<PredictImageResponse | undefined>;
  /** Answers received and not yet taken with next(). */
  readonly buffered: number;
  /** Settles when the server has ended the stream (never rejects). */
  readonly ended: Promise<StreamEnd>;
}

/** A FIFO whose reader waits for the writer. */
class Channel<T> {
  private items: T[] = [];
  private waiters: Array<(v: IteratorResult<T>) => void> = [];
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    const w = this.waiters.shift();
    if (w) w({ value: item, done: false });
    else this.items.push(item);
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  get size(): number {
    return this.items.length;
  }

  take(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const r = await this.take();
      if (r.done) return;
      yield r.value;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function streamFromChannels(
  answers: Channel<PredictImageResponse>,
  ended: Promise<StreamEnd>,
  io: { send(m: PredictImageRequest): void; end(): void; cancel(): void },
): ImageStream {
  return {
    send: (...messages) => {
      for (const m of messages) io.send(m);
    },
    end: () => io.end(),
    cancel: () => io.cancel(),
    async next(timeoutMs = 15_000) {
      const r = await withTimeout(answers.take(), timeoutMs, "answer");
      return r.done ? undefined : r.value;
    },
    get buffered() {
      return answers.size;
    },
    ended,
  };
}

/** A PredictImage stream on a grpc-js channel (one HTTP/2 connection per grpc.Client). */
export function grpcJsImageStream(client: grpc.Client, metadata: Record<string, string>): ImageStream {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  const call = client.makeBidiStreamRequest(
    PREDICT_IMAGE_PATH,
    (m: PredictImageRequest) => Buffer.from(toBinary(PredictImageRequestSchema, m)),
    (b: Buffer) => fromBinary(PredictImageResponseSchema, b),
    md,
  );
  const answers = new Channel<PredictImageResponse>();
  call.on("data", (m: PredictImageResponse) => answers.push(m));
  call.on("error", () => {}); // the status event carries it
  const ended = new Promise<StreamEnd>((resolve) =>
    call.on("status", (s: grpc.StatusObject) => {
      answers.close();
      resolve({ code: s.code as number as Code | 0, message: s.details });
    }),
  );
  return streamFromChannels(answers, ended, {
    send: (m) => call.write(m),
    end: () => call.end(),
    cancel: () => call.cancel(),
  });
}

/** A PredictImage stream through a connect-node transport. */
export function connectImageStream(transport: Transport, headers: Record<string, string>): ImageStream {
  const client = createClient(PredictionService, transport);
  const requests = new Channel<PredictImageRequest>();
  const answers = new Channel<PredictImageResponse>();
  const abort = new AbortController();
  const ended = (async (): Promise<StreamEnd> => {
    try {
      for await (const m of client.predictImage(requests, { headers, signal: abort.signal })) answers.push(m);
      return { code: 0, message: "" };
    } catch (e) {
      const err = ConnectError.from(e);
      return { code: err.code, message: err.rawMessage };
    } finally {
      answers.close();
    }
  })();
  return streamFromChannels(answers, ended, {
    send: (m) => requests.push(m),
    end: () => requests.close(),
    cancel: () => abort.abort(),
  });
}

export interface StreamClientKind {
  name: string;
  /** Opens one stream; `close` releases whatever connection the kind holds. */
  open(baseUrl: string, headers: Record<string, string>): { stream: ImageStream; close(): void };
}

/** The three ways a PredictImage stream reaches the server: gRPC (grpc-js and connect-node) and Connect, all over HTTP/2. */
export const STREAM_CLIENTS: readonly StreamClientKind[] = [
  {
    name: "grpc-js (gRPC, h2c)",
    open(baseUrl, headers) {
      // Its own connection, as a separate client process would have (grpc-js otherwise shares one per address).
      const client = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
      return { stream: grpcJsImageStream(client, headers), close: () => client.close() };
    },
  },
  {
    name: "connect-node gRPC (h2c)",
    open: (baseUrl, headers) => ({ stream: connectImageStream(createGrpcTransport({ baseUrl }), headers), close() {} }),
  },
  {
    name: "connect-node Connect (HTTP/2)",
    open: (baseUrl, headers) => ({ stream: connectImageStream(createConnectTransport({ baseUrl, httpVersion: "2" }), headers), close() {} }),
  },
];

export interface ImageMessagesOptions {
  contentType?: string;
  /** Send header.size_bytes (the image is answered at its last byte). Default false. */
  sizeBytes?: boolean | bigint;
  chunkSize?: number;
  topK?: number;
  modelName?: string;
  modelVersion?: string;
}

/** One image as a stream sees it: its header, then its bytes in chunks. */
export function imageMessages(id: string, bytes: Uint8Array, opts: ImageMessagesOptions = {}): PredictImageRequest[] {
  const chunkSize = opts.chunkSize ?? 4096;
  const sizeBytes = typeof opts.sizeBytes === "bigint" ? opts.sizeBytes : opts.sizeBytes ? BigInt(bytes.length) : 0n;
  const out = [
    create(PredictImageRequestSchema, {
      kind: {
        case: "header",
        value: {
          id,
          contentType: opts.contentType ?? "image/png",
          topK: opts.topK ?? 0,
          sizeBytes,
          modelName: opts.modelName ?? "",
          modelVersion: opts.modelVersion ?? "",
        },
      },
    }),
  ];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(chunk(bytes.subarray(i, i + chunkSize)));
  return out;
}

export function chunk(bytes: Uint8Array): PredictImageRequest {
  return create(PredictImageRequestSchema, { kind: { case: "chunk", value: bytes } });
}

/** Reads every remaining answer and the end of the stream. */
export async function drain(stream: ImageStream, timeoutMs = 30_000): Promise<{ answers: PredictImageResponse[]; end: StreamEnd }> {
  const answers: PredictImageResponse[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await stream.next(Math.max(1, deadline - Date.now()));
    if (!a) break;
    answers.push(a);
  }
  return { answers, end: await withTimeout(stream.ended, Math.max(1, deadline - Date.now()), "end of stream") };
}
