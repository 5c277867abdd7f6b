// The server span of each call, following the OpenTelemetry RPC semantic
// conventions, a child of the caller's span when the request carries a W3C
// `traceparent` (and `tracestate`). Spans are recorded explicitly here, for
// every path (the fast path bypasses any http/http2 instrumentation), and made
// into the SDK's spans in batches (span-records.ts).
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace, type Attributes, type Context, type Link, type SpanContext, type TextMapGetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import { NodeTracerProvider, SamplingDecision, type Sampler, type SpanProcessor } from "@opentelemetry/sdk-trace-node";
import { epochMs, type TracedCall } from "../engine/traced-call.js";
import { SpanRecorder } from "./span-records.js";
import { RootRuns } from "./root-runs.js";
import { ChosenTraceIds, ratioBound } from "./trace-ids.js";

/** How a call reads its request headers (policy/call-context.ts's HeaderLookup). */
type HeaderLookup = (name: string) => string | null | undefined;

/** The call's RPC protocol (policy/call-context.ts's Protocol). */
type Protocol = "grpc" | "grpc-web" | "connect";

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
   * (traceidratio, parentbased_traceidratio; 0 for always_off), that ratio:
   * such calls are then sampled in runs (RootRuns), and the others dropped
   * before an id is drawn or the sampler asked.
   */
  rootRatio?: number;
  /** Calls in a run of sampled root calls (default RUN_CALLS). */
  rootRunCalls?: number;
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
  private readonly sampler: Sampler;
  /** The ratio bound of a root call's trace id (2^32: any id). */
  private readonly rootBound: number;
  private readonly rootRuns: RootRuns;
  private readonly ids = new ChosenTraceIds();
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly spans: SpanRecorder;

  /** The provider is never registered globally: no context manager, no AsyncLocalStorage per call. */
  constructor(options: TracingOptions) {
    const { rootRatio, rootRunCalls, ...sdkOptions } = options;
    this.sampler = options.sampler;
    this.rootBound = ratioBound(rootRatio ?? 1);
    this.rootRuns = new RootRuns(rootRatio ?? 1, rootRunCalls);
    this.provider = new NodeTracerProvider({ ...sdkOptions, idGenerator: this.ids });
    this.spans = new SpanRecorder(this.provider.getTracer(TRACER_NAME), this.ids);
  }

  /**
   * The call's span: undefined when it is neither sampled nor part of a
   * caller's trace (then nothing about it is traced or logged). `method` is
   * the path, e.g. "/prediction.v1.PredictionService/Predict".
   */
  start(method: string, protocol: Protocol, header: HeaderLookup): CallSpan | undefined {
    // Only a request with a traceparent pays for parsing one.
    if (header("traceparent")) return this.startChild(method, protocol, header);
    return this.startRoot(method, protocol);
  }

  /**
   * As start, with every root call in a run (the warm-up's calls). Only the
   * server's own calls may run start: V8 inlines a call that its feedback
   * shows as frequent, and the sampled path, frequent in the warm-up, would
   * then be compiled into every call's code.
   */
  startSampled(method: string, protocol: Protocol, header: HeaderLookup): CallSpan | undefined {
    if (header("traceparent")) return this.startChild(method, protocol, header);
    return this.sampleRoot(method, protocol);
  }

  /**
   * A call with no incoming trace: sampled in runs at the sampler's trace-id
   * ratio (RootRuns), before anything is made of it; a call passed over
   * costs a count.
   */
  private startRoot(method: string, protocol: Protocol): CallSpan | undefined {
    return this.rootRuns.next() ? this.sampleRoot(method, protocol) : undefined;
  }

  /**
   * A root call in a run: its trace id is drawn within the ratio's bound and
   * the sampler asked. The SDK, making its span later with that trace id,
   * comes to the same decision.
   */
  private sampleRoot(method: string, protocol: Protocol): CallSpan | undefined {
    this.ids.drawWithin(this.rootBound);
    const traceId = this.ids.drawnTraceId();
    const flags = this.decide(ROOT_CONTEXT, traceId, method);
    return flags === undefined ? undefined : this.open(method, protocol, undefined, traceId, flags);
  }

  /** A call that brings a traceparent: a child of the caller's span, or a root call if it does not parse. */
  private startChild(method: string, protocol: Protocol, header: HeaderLookup): CallSpan | undefined {
    const context = this.propagator.extract(ROOT_CONTEXT, header, headerGetter);
    const caller = trace.getSpanContext(context);
    if (caller === undefined) return this.startRoot(method, protocol);
    const flags = this.decide(context, caller.traceId, method);
    if (flags === undefined) return { traced: undefined, ids: { traceId: caller.traceId, spanId: this.ids.newSpanId() }, end: () => {} };
    return this.open(method, protocol, caller, caller.traceId, flags);
  }

  /** The sampler's decision for a call's server span: its trace flags, or undefined when it is not recorded. */
  private decide(parent: Context, traceId: string, method: string): TraceFlags | undefined {
    const { decision } = this.sampler.shouldSample(parent, traceId, method.slice(1), SpanKind.SERVER, NO_ATTRIBUTES, NO_LINKS);
    if (decision === SamplingDecision.NOT_RECORD) return undefined;
    return decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE;
  }

  /** A recorded call: its ids now, its spans recorded as its work ends. */
  private open(method: string, protocol: Protocol, caller: SpanContext | undefined, traceId: string, traceFlags: TraceFlags): CallSpan {
    const spanId = this.ids.newSpanId();
    const context: SpanContext = { traceId, spanId, traceFlags, traceState: caller?.traceState };
    const startTime = epochMs();
    const spans = this.spans;
    return {
      traced: { context, record: (span) => spans.record({ ...span, kind: SpanKind.INTERNAL, parent: context }) },
      ids: { traceId, spanId },
      end: (code, codeName, message) =>
        spans.record({
          name: method.slice(1),
          kind: SpanKind.SERVER,
          parent: caller,
          spanId,
          traceId,
          startTime,
          endTime: epochMs(),
          attributes: serverAttributes(method, protocol, code, codeName),
          error: SERVER_ERRORS.has(code) ? (message ?? codeName) : undefined,
        }),
    };
  }

  /** Makes the spans recorded so far and sends them, e.g. before reading an in-memory exporter. */
  forceFlush(): Promise<void> {
    this.spans.flush();
    return this.provider.forceFlush();
  }

  /** Sends the spans still buffered and stops. */
  shutdown(): Promise<void> {
    this.spans.flush();
    return this.provider.shutdown();
  }
}

/** The RPC semantic conventions' attributes of a server span. */
function serverAttributes(method: string, protocol: Protocol, code: number, codeName: string): Attributes {
  const slash = method.lastIndexOf("/");
  const service = method.slice(1, Math.max(1, slash));
  const name = method.slice(slash + 1);
  if (protocol !== "connect") return { "rpc.system": "grpc", "rpc.service": service, "rpc.method": name, "rpc.grpc.status_code": code };
  const attributes: Attributes = { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": name };
  if (code !== 0) attributes["rpc.connect_rpc.error_code"] = codeName.toLowerCase();
  return attributes;
}
