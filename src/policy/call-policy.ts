// Everything the server does to every call, whatever path it arrives by:
// request id, API key (its scope and rate), field rules, one log line with
// metrics, and the error a client may see. The Connect interceptors and the
// unary fast path both call this one object, so the two paths cannot drift
// apart.
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { extractApiKey, type ApiKeyVerifier } from "./api-keys.js";
import { requestIdOf, type HeaderLookup, type Protocol } from "./call-context.js";
import { CallLog, codeName, type CallRecord } from "./call-log.js";
import { invalidArgument, permissionDenied, rateLimited, toClientError, unauthenticated } from "./errors.js";
import { findViolations, type RuleOverrides } from "./field-violations.js";
import type { TracedCall } from "../engine/traced-call.js";
import type { Tracing } from "../tracing/call-spans.js";

/** Told about each finished call besides the log, e.g. metrics; `codeName` is the status's gRPC name. */
export type CallSink = (rec: CallRecord, codeName: string) => void;

export interface CallPolicyOptions {
  logger: Logger;
  sink?: CallSink;
  /** The key set in force (see KeyStore, which replaces it on reload). */
  apiKeys: ApiKeyVerifier;
  /** Services whose calls need a key (health and reflection stay open). */
  protectedServices: readonly string[];
  ruleOverrides?: RuleOverrides;
  /** The client certificate's subject for a connection, logged with each call (set only with client certificates). */
  clientSubject?: (connection: object) => string | undefined;
  /** Set when tracing is on: each call gets a server span. */
  tracing?: Tracing;
}

/** One call in progress. */
export interface Call {
  readonly requestId: string;
  /** The call's trace when it is sampled, for the spans of the work done for it. */
  readonly trace: TracedCall | undefined;
  /** Milliseconds since the call began. */
  elapsedMs(): number;
  /** Names the API key the call came with, for its log line and metrics. */
  identify(keyName: string): void;
  /**
   * Ends the call: logs and counts it, and for a failure returns the error
   * the client may see (carrying the request id).
   */
  finish(reason?: unknown): ConnectError | undefined;
}

export class CallPolicy {
  private readonly overrides: RuleOverrides;
  private readonly log: CallLog;
  /** "/<service>/" of each protected service. */
  private readonly protectedPrefixes: readonly string[];
  private begun = 0;
  private finished = 0;

  constructor(private readonly opts: CallPolicyOptions) {
    this.log = new CallLog(opts.logger);
    this.protectedPrefixes = opts.protectedServices.map((s) => `/${s}/`);
    this.overrides = opts.ruleOverrides ?? new Map();
  }

  /** `connection` is the client connection the call came on (see authorize). */
  begin(method: string, protocol: Protocol, header: HeaderLookup, connection?: object): Call {
    const start = performance.now();
    const requestId = requestIdOf(header);
    const { logger, clientSubject: subjectOf } = this.opts;
    const clientSubject = subjectOf && connection ? subjectOf(connection) : undefined;
    // Checked once per call: with tracing off, no span and no header parsing.
    const span = this.opts.tracing?.start(method, protocol, header);
    const ids = span?.ids;
    const report = this.report;
    let finished = false;
    let key: string | undefined;
    this.begun++;
    const count = () => this.finished++;
    return {
      requestId,
      trace: span?.traced,
      elapsedMs: () => performance.now() - start,
      identify(keyName: string) {
        key = keyName;
      },
      finish(reason?: unknown) {
        if (finished) return undefined;
        finished = true;
        count();
        const durationMs = performance.now() - start;
        if (reason === undefined) {
          span?.end(0, "OK");
          report({ requestId, method, protocol, key, code: 0, durationMs, clientSubject, ids });
          return undefined;
        }
        const { error, internal } = toClientError(reason);
        // The real cause stays in our log; the client gets the generic error.
        if (internal) logger.error({ requestId, method, err: (reason as Error).cause ?? reason }, "internal error");
        error.metadata.set("x-request-id", requestId);
        span?.end(error.code, codeName(error.code), error.rawMessage);
        report({ requestId, method, protocol, key, code: error.code, durationMs, error: error.rawMessage, fault: internal, clientSubject, ids });
        return error;
      },
    };
  }

  /** Calls begun and not yet finished: every call must end, whatever the client did. */
  get inFlight(): number {
    return this.begun - this.finished;
  }

  /** One finished call: its log line, then the sink (metrics). */
  private readonly report = (rec: CallRecord): void => {
    const code = codeName(rec.code);
    this.log.write(rec, code);
    this.opts.sink?.(rec, code);
  };

  /**
   * Who may make this call: undefined for an open service, otherwise the name
   * of the call's API key. Throws UNAUTHENTICATED without a valid key,
   * PERMISSION_DENIED for a method outside the key's scope, and
   * RESOURCE_EXHAUSTED (with RetryInfo) when the key is over its rate.
   * `path` is the procedure, e.g. "/prediction.v1.PredictionService/Predict";
   * `connection` the client connection the call came on (see
   * ApiKeyVerifier).
   */
  authorize(path: string, header: HeaderLookup, connection?: object): string | undefined {
    if (!this.isProtected(path)) return undefined;
    const key = this.opts.apiKeys.verify(extractApiKey(header), connection);
    if (key === undefined) throw unauthenticated();
    if (key.paths !== undefined && !key.paths.has(path)) throw permissionDenied(key.name, path.slice(path.lastIndexOf("/") + 1));
    if (key.bucket !== undefined) {
      const waitMs = key.bucket.take();
      if (waitMs > 0) throw rateLimited(key.name, key.bucket.rate, waitMs);
    }
    return key.name;
  }

  /** The name of the call's key if it is a valid one, e.g. to log a call refused a method or a token. */
  keyNameOf(header: HeaderLookup, connection?: object): string | undefined {
    return this.opts.apiKeys.verify(extractApiKey(header), connection)?.name;
  }

  private isProtected(path: string): boolean {
    for (const prefix of this.protectedPrefixes) if (path.startsWith(prefix)) return true;
    return false;
  }

  /** Throws INVALID_ARGUMENT naming every field that breaks the contract's rules. */
  validate(schema: DescMessage, message: Message): void {
    const violations = findViolations(schema, message, this.overrides);
    if (violations.length > 0) throw invalidArgument(violations);
  }
}
