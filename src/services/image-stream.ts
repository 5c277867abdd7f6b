// PredictImage: a bidirectional stream of images, each a header and then
// chunks of its bytes. A reader task assembles images as messages arrive and
// starts classifying each one as soon as it is complete; the handler sends
// the answers in order as they finish. Bad images get an error answer and the
// stream goes on; misuse of the stream ends it.
import { setMaxListeners } from "node:events";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  PredictImageResponseSchema,
  type ImageHeader,
  type PredictImageRequest,
  type PredictImageResponse,
} from "../../gen/prediction/v1/prediction_service_pb.js";
import { traceOf } from "../rpc/call-trace.js";
import { connectionKey } from "../rpc/handler-context.js";
import { classifyImage, type ImageClassifierDeps } from "./image-classifier.js";
import { OrderedResults } from "./ordered-results.js";
import type { StreamAdmission } from "./stream-admission.js";

export interface ImageStreamDeps extends ImageClassifierDeps {
  streams: StreamAdmission;
}

/** One image being received. Its bytes are dropped as soon as it is known to be unusable. */
class OpenImage {
  private chunks: Uint8Array[] = [];
  received = 0;
  error: ConnectError | undefined;

  constructor(
    readonly header: ImageHeader,
    private readonly maxBytes: number,
  ) {
    if (header.sizeBytes > BigInt(maxBytes)) this.refuse(`size_bytes is ${header.sizeBytes} - the limit is ${maxBytes} bytes`, Code.ResourceExhausted);
  }

  append(chunk: Uint8Array): void {
    this.received += chunk.length;
    if (this.error) return;
    if (this.received > this.maxBytes) {
      this.refuse(`the image is over ${this.maxBytes} bytes`, Code.ResourceExhausted);
      return;
    }
    if (this.header.sizeBytes > 0n && this.received > Number(this.header.sizeBytes)) {
      this.refuse(`more bytes arrived than size_bytes (${this.header.sizeBytes})`, Code.InvalidArgument);
      return;
    }
    this.chunks.push(chunk);
  }

  /** With size_bytes, the image is complete at its last byte. */
  get complete(): boolean {
    return this.header.sizeBytes > 0n && this.received >= Number(this.header.sizeBytes);
  }

  bytes(): Uint8Array {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    return all;
  }

  private refuse(message: string, code: Code): void {
    this.error = new ConnectError(message, code);
    this.chunks = [];
  }
}

export async function* predictImageStream(
  deps: ImageStreamDeps,
  requests: AsyncIterable<PredictImageRequest>,
  ctx: HandlerContext,
): AsyncGenerator<PredictImageResponse> {
  const leave = deps.streams.admit(ctx.values.get(connectionKey));
  // Each image in flight listens to the stream's signal (to be dropped if the client leaves).
  setMaxListeners(deps.limits.maxInFlightPerStream + 16, ctx.signal);
  const results = new OrderedResults<PredictImageResponse>();
  // A client that leaves must not leave this generator waiting for answers.
  const onAbort = () => results.fail(ConnectError.from(ctx.signal.reason, Code.Canceled));
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // A whole-stream limit besides the idle one: a client trickling a byte now and then is never idle.
  const maxMs = deps.limits.streamMaxMs;
  const lifetime = setTimeout(
    () => results.fail(new ConnectError(`the stream has been open for ${maxMs} ms - the longest a stream may last`, Code.DeadlineExceeded)),
    maxMs,
  );
  try {
    readImages(deps, requests, ctx, results).then(
      () => results.close(),
      (e) => results.fail(e),
    );
    yield* results;
  } finally {
    clearTimeout(lifetime);
    ctx.signal.removeEventListener("abort", onAbort);
    leave();
  }
}

async function readImages(
  deps: ImageStreamDeps,
  requests: AsyncIterable<PredictImageRequest>,
  ctx: HandlerContext,
  results: OrderedResults<PredictImageResponse>,
): Promise<void> {
  const limits = deps.limits;
  const unanswered = new Set<string>();
  let current: OpenImage | undefined;
  let count = 0;
  const finish = (image: OpenImage) => {
    current = undefined;
    const id = image.header.id;
    results.push(answer(deps, image, ctx).finally(() => unanswered.delete(id)));
  };
  // Busy only while answers are owed: a half-received image waits on the client, so it does not keep the stream alive.
  for await (const msg of idleTimeout(requests, limits.streamIdleMs, () => results.pending > 0)) {
    switch (msg.kind.case) {
      case "header": {
        if (current) finish(current);
        const header = msg.kind.value;
        if (unanswered.has(header.id)) throw new ConnectError(`image id "${header.id}" is reused while that image is still open`, Code.InvalidArgument);
        if (++count > limits.maxImagesPerStream) throw new ConnectError(`more than ${limits.maxImagesPerStream} images on one stream`, Code.ResourceExhausted);
        // Backpressure: stop reading while this stream has enough images in flight.
        await results.room(limits.maxInFlightPerStream);
        unanswered.add(header.id);
        current = new OpenImage(header, limits.maxBytes);
        break;
      }
      case "chunk": {
        if (!current) throw new ConnectError("a chunk came with no open image - send an ImageHeader first", Code.InvalidArgument);
        current.append(msg.kind.value);
        if (current.complete) finish(current);
        break;
      }
      default:
        throw new ConnectError("a message must set header or chunk", Code.InvalidArgument);
    }
  }
  if (current) finish(current);
}

/** The answer for one image: its classification, or its error. Never rejects. */
async function answer(deps: ImageStreamDeps, image: OpenImage, ctx: HandlerContext): Promise<PredictImageResponse> {
  const id = image.header.id;
  const fail = (e: ConnectError) => create(PredictImageResponseSchema, { id, result: { case: "error", value: { code: e.code, message: e.rawMessage } } });
  if (image.error) return fail(image.error);
  try {
    const h = image.header;
    const classification = await classifyImage(
      deps,
      { bytes: image.bytes(), contentType: h.contentType, topK: h.topK, modelName: h.modelName, modelVersion: h.modelVersion },
      { signal: ctx.signal, trace: traceOf(ctx) },
    );
    return create(PredictImageResponseSchema, { id, result: { case: "classification", value: classification } });
  } catch (e) {
    return fail(e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal));
  }
}

/**
 * The client's messages, ending the stream with DEADLINE_EXCEEDED when none
 * arrives for `ms` while nothing is in flight (a client waiting for answers
 * is not idle).
 */
async function* idleTimeout<T>(source: AsyncIterable<T>, ms: number, busy: () => boolean): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = it.next();
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<"idle">((resolve) => {
        const arm = () => (timer = setTimeout(() => (busy() ? arm() : resolve("idle")), ms));
        arm();
      });
      const r = await Promise.race([next, idle]).finally(() => clearTimeout(timer));
      if (r === "idle") {
        next.catch(() => {});
        throw new ConnectError(`no message for ${ms} ms - the stream is closed as idle`, Code.DeadlineExceeded);
      }
      if (r.done) return;
      yield r.value;
    }
  } finally {
    void it.return?.()?.catch(() => {});
  }
}
