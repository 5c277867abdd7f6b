// The Connect interceptors. Each is a thin adapter from Connect's request and
// response shapes to a plain policy function in src/policy/, so every call, on
// every protocol, unary or streamed, runs the same policy code.
import { createContextKey, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { ApiKeyVerifier, extractApiKey } from "./policy/api-keys.js";
import { protocolOf, requestIdOf } from "./policy/call-context.js";
import { codeName, logCall, type CallRecord } from "./policy/call-log.js";
import { invalidArgument, toClientError, unauthenticated } from "./policy/errors.js";
import { findViolations, type RuleOverrides } from "./policy/field-violations.js";

/** The call's request id, for handlers that log. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });

/** Something told about each finished call besides the log, e.g. metrics. */
export type CallSink = (rec: CallRecord & { codeName: string }) => void;

/** Outermost: request id, one log line (and metrics) per call, and no internal error detail to clients. */
export function callLogInterceptor(logger: Logger, sink?: CallSink): Interceptor {
  const report = (rec: CallRecord) => {
    logCall(logger, rec);
    sink?.({ ...rec, codeName: codeName(rec.code) });
  };
  return (next) => async (req) => {
    const start = performance.now();
    const requestId = requestIdOf(req.header);
    req.contextValues.set(requestIdKey, requestId);
    const method = `/${req.service.typeName}/${req.method.name}`;
    const protocol = protocolOf(req.header.get("content-type"));
    const finish = (reason?: unknown) => {
      if (reason === undefined) {
        report({ requestId, method, protocol, code: 0, durationMs: performance.now() - start });
        return undefined;
      }
      const { error, internal } = toClientError(reason);
      // The real cause stays in our log; the client gets the generic error.
      if (internal) logger.error({ requestId, method, err: (reason as Error).cause ?? reason }, "internal error");
      error.metadata.set("x-request-id", requestId);
      report({ requestId, method, protocol, code: error.code, durationMs: performance.now() - start, error: error.rawMessage });
      return error;
    };
    let res;
    try {
      res = await next(req);
    } catch (e) {
      throw finish(e);
    }
    res.header.set("x-request-id", requestId);
    if (!res.stream) {
      res.header.set("x-response-time-ms", (performance.now() - start).toFixed(2));
      finish();
      return res;
    }
    return { ...res, message: finishWhenDone(res.message, finish) };
  };
}

async function* finishWhenDone<T>(source: AsyncIterable<T>, finish: (reason?: unknown) => unknown): AsyncIterable<T> {
  try {
    yield* source;
  } catch (e) {
    throw finish(e);
  }
  finish();
}

/** API keys for the listed services; health and reflection stay open. */
export function apiKeyInterceptor(keys: readonly string[], protectedServices: ReadonlySet<string>): Interceptor {
  const verifier = new ApiKeyVerifier(keys);
  return (next) => async (req) => {
    if (protectedServices.has(req.service.typeName) && !verifier.verify(extractApiKey(req.header))) {
      throw unauthenticated();
    }
    return next(req);
  };
}

/** The contract's field rules, for every request message, before any handler runs. */
export function validationInterceptor(overrides: RuleOverrides = new Map()): Interceptor {
  return (next) => async (req) => {
    const schema = req.method.input;
    if (!req.stream) {
      const violations = findViolations(schema, req.message, overrides);
      if (violations.length > 0) throw invalidArgument(violations);
      return next(req);
    }
    return next({ ...req, message: validateEach(req.message, schema, overrides) });
  };
}

async function* validateEach<T extends object>(
  source: AsyncIterable<T>,
  schema: Parameters<typeof findViolations>[0],
  overrides: RuleOverrides,
): AsyncIterable<T> {
  for await (const message of source) {
    const violations = findViolations(schema, message as never, overrides);
    if (violations.length > 0) throw invalidArgument(violations);
    yield message;
  }
}
