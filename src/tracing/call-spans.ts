// The server span of each call, following the OpenTelemetry RPC semantic
// conventions, a child of the caller's span when the request carries a W3C
// `traceparent` (and `tracestate`). Spans are made explicitly here, for every
// path (the fast path bypasses any http/http2 instrumentation).
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span, type TextMapGetter, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import { NodeTracerProvider, SamplingDecision, type Sampler, type SpanProcessor } from "@opentelemetry/sdk-trace-node";
import type { TracedCall } from "../engine/traced-call.js";
import { ChosenTraceIds, ratioBound } from "./trace-ids.js";
import { warmUpSpans } from "./warm-up.js";

/** How a call reads its request headers (policy/call-context.ts's HeaderLookup). */
type HeaderLookup = (name: string) => string | null | undefined;

/** The call's ids for its log line. */
export interface TraceIds {
  traceId: string;
  spanId: string;
}

/** One call's server span. */
export interface CallSpan {
  /** For the call's child spans; undefined when the call is not sampled. */
  readonly traced: TracedCall | undefined;
  readonly ids: TraceIds;
  /** Ends the span with the call's status; `code` is the gRPC status number, `codeName` its name. */
  end(code: number, codeName: string, message?: string): void;
}

export interface TracingOptions {
  sampler: Sampler;
  /**
   * When the sampler decides a call with no incoming trace by trace-id ratio
   * (traceidratio, parentbased_traceidratio), that ratio: such a call is then
   * dropped from its id's bytes, before the id is written out or the sampler asked.
   */
  rootRatio?: number;
  /** Where finished spans go (an exporter's processor). */
  spanProcessors: SpanProcessor[];
  resource?: Resource;
}

const TRACER_NAME = "prediction-server";

// The codes a server span marks as an error (RPC semantic conventions): the
// others are the caller's mistakes, not the server's.
const SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

const NO_ATTRIBUTES = Object.freeze({});
const NO_LINKS: Link[] = [];

const headerGetter: TextMapGetter<HeaderLookup> = {
  get: (header, key) => header(key) ?? undefined,
  keys: () => [],
};

export class Tracing {
  private readonly provider: NodeTracerProvider;
  private readonly tracer: Tracer;
  private readonly sampler: Sampler;
  /** A root call whose ratio key is at or above this is dropped at once (2^32: never). */
  private readonly rootBound: number;
  private readonly ids = new ChosenTraceIds();
  private readonly propagator = new W3CTraceContextPropagator();

  /** The provider is never registered globally: no context manager, no AsyncLocalStorage per call. */
  constructor(options: TracingOptions) {
    const { rootRatio, ...sdkOptions } = options;
    this.sampler = options.sampler;
    this.rootBound = rootRatio === undefined ? 0x100000000 : ratioBound(rootRatio);
    this.provider = new NodeTracerProvider({ ...sdkOptions, idGenerator: this.ids });
    this.tracer = this.provider.getTracer(TRACER_NAME);
    warmUpSpans(TRACER_NAME);
  }

  /**
   * The call's span: undefined when it is neither sampled nor part of a
   * caller's trace (then nothing about it is traced or logged). `method` is
   * the path, e.g. "/prediction.v1.PredictionService/Predict".
   */
  start(method: string, protocol: "grpc" | "grpc-web" | "connect", header: HeaderLookup): CallSpan | undefined {
    // Only a request with a traceparent pays for parsing one.
    if (header("traceparent")) return this.startChild(method, protocol, header);
    // A root call is sampled before the SDK makes anything of it: one the
    // sampler drops costs a trace id's bytes and a decision. The SDK, asked
    // for a sampled one, takes that trace id and comes to the same decision.
    if (this.ids.draw() >= this.rootBound) return undefined;
    const traceId = this.ids.choose();
    if (this.sampler.shouldSample(ROOT_CONTEXT, traceId, method.slice(1), SpanKind.SERVER, NO_ATTRIBUTES, NO_LINKS).decision === SamplingDecision.NOT_RECORD) {
      this.ids.forget();
      return undefined;
    }
    return this.open(method, protocol, ROOT_CONTEXT, false);
  }

  /** A call that brings a traceparent: a child of the caller's span, or a root call if it does not parse. */
  private startChild(method: string, protocol: "grpc" | "grpc-web" | "connect", header: HeaderLookup): CallSpan | undefined {
    const parent = this.propagator.extract(ROOT_CONTEXT, header, headerGetter);
    if (trace.getSpanContext(parent) === undefined) return this.start(method, protocol, () => undefined);
    return this.open(method, protocol, parent, true);
  }

  /** The SDK's span for a call it may record: sampled, or part of a caller's trace. */
  private open(method: string, protocol: "grpc" | "grpc-web" | "connect", parent: Context, incoming: boolean): CallSpan | undefined {
    const slash = method.lastIndexOf("/");
    const span = this.tracer.startSpan(method.slice(1), { kind: SpanKind.SERVER }, parent);
    const recording = span.isRecording();
    if (!recording && !incoming) return undefined;
    const grpc = protocol !== "connect";
    if (recording) {
      span.setAttributes({
        "rpc.system": grpc ? "grpc" : "connect_rpc",
        "rpc.service": method.slice(1, Math.max(1, slash)),
        "rpc.method": method.slice(slash + 1),
      });
    }
    const context = span.spanContext();
    return {
      traced: recording ? { tracer: this.tracer, context: trace.setSpan(parent, span) } : undefined,
      ids: { traceId: context.traceId, spanId: context.spanId },
      end: (code, codeName, message) => endSpan(span, grpc, code, codeName, message),
    };
  }

  /** Sends the spans still buffered and stops. */
  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

function endSpan(span: Span, grpc: boolean, code: number, codeName: string, message: string | undefined): void {
  if (span.isRecording()) {
    if (grpc) span.setAttribute("rpc.grpc.status_code", code);
    else if (code !== 0) span.setAttribute("rpc.connect_rpc.error_code", codeName.toLowerCase());
    if (SERVER_ERRORS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  span.end();
}
