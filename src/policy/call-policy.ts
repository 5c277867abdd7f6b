// Everything the server does to every call, whatever path it arrives by:
// request id, API key, field rules, one log line with metrics, and the
// error a client may see. The Connect interceptors and the unary fast path
// both call this one object, so the two paths cannot drift apart.
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ApiKeyVerifier, extractApiKey } from "./api-keys.js";
import { requestIdOf, type HeaderLookup, type Protocol } from "./call-context.js";
import { CallLog, codeName, type CallRecord } from "./call-log.js";
import { invalidArgument, toClientError, unauthenticated } from "./errors.js";
import { findViolations, type RuleOverrides } from "./field-violations.js";

/** Told about each finished call besides the log, e.g. metrics; `codeName` is the status's gRPC name. */
export type CallSink = (rec: CallRecord, codeName: string) => void;

export interface CallPolicyOptions {
  logger: Logger;
  sink?: CallSink;
  apiKeys: readonly string[];
  /** Services whose calls need a key (health and reflection stay open). */
  protectedServices: ReadonlySet<string>;
  ruleOverrides?: RuleOverrides;
}

/** One call in progress. */
export interface Call {
  readonly requestId: string;
  /** Milliseconds since the call began. */
  elapsedMs(): number;
  /**
   * Ends the call: logs and counts it, and for a failure returns the error
   * the client may see (carrying the request id).
   */
  finish(reason?: unknown): ConnectError | undefined;
}

export class CallPolicy {
  private readonly verifier: ApiKeyVerifier;
  private readonly overrides: RuleOverrides;
  private readonly log: CallLog;
  private begun = 0;
  private finished = 0;

  constructor(private readonly opts: CallPolicyOptions) {
    this.log = new CallLog(opts.logger);
    this.verifier = new ApiKeyVerifier(opts.apiKeys);
    this.overrides = opts.ruleOverrides ?? new Map();
  }

  begin(method: string, protocol: Protocol, header: HeaderLookup): Call {
    const start = performance.now();
    const requestId = requestIdOf(header);
    const { logger } = this.opts;
    const report = this.report;
    let finished = false;
    this.begun++;
    const count = () => this.finished++;
    return {
      requestId,
      elapsedMs: () => performance.now() - start,
      finish(reason?: unknown) {
        if (finished) return undefined;
        finished = true;
        count();
        const durationMs = performance.now() - start;
        if (reason === undefined) {
          report({ requestId, method, protocol, code: 0, durationMs });
          return undefined;
        }
        const { error, internal } = toClientError(reason);
        // The real cause stays in our log; the client gets the generic error.
        if (internal) logger.error({ requestId, method, err: (reason as Error).cause ?? reason }, "internal error");
        error.metadata.set("x-request-id", requestId);
        report({ requestId, method, protocol, code: error.code, durationMs, error: error.rawMessage, fault: internal });
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
   * Throws UNAUTHENTICATED unless the service is open or the call carries a
   * valid key. `connection` is the client connection the call came on (see
   * ApiKeyVerifier): a key checked there once is checked faster after.
   */
  authorize(serviceTypeName: string, header: HeaderLookup, connection?: object): void {
    if (this.opts.protectedServices.has(serviceTypeName) && !this.verifier.verify(extractApiKey(header), connection)) {
      throw unauthenticated();
    }
  }

  /** Throws INVALID_ARGUMENT naming every field that breaks the contract's rules. */
  validate(schema: DescMessage, message: Message): void {
    const violations = findViolations(schema, message, this.overrides);
    if (violations.length > 0) throw invalidArgument(violations);
  }
}
