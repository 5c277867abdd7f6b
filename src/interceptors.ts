// The Connect interceptors: thin adapters from Connect's request and response
// shapes to the plain CallPolicy, so every call on every protocol, unary or
// streamed, runs the same policy code (the unary fast path calls it too).
import { ConnectError, createContextKey, type Interceptor, type StreamResponse, type UnaryResponse } from "@connectrpc/connect";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { protocolOf } from "./policy/call-context.js";
import { endedBySignal } from "./policy/errors.js";
import { admit } from "./policy/admission.js";
import type { CallPolicy } from "./policy/call-policy.js";
import { tracedCallKey } from "./rpc/call-trace.js";
import { connectionKey } from "./rpc/handler-context.js";
import { connectionOf, nodeHeader } from "./transport/node-handler.js";
import { callStartedKey, type RpcHandlerOptions } from "./transport/rpc-handler.js";

/** The name of the key a call was admitted with (undefined for an open service). */
const keyNameKey = createContextKey<string | undefined>(undefined, { description: "the call's API key name" });

/**
 * For rpcHandler's `admit`: the one key check (policy/admission.ts), on the
 * headers before connect-node reads the body; the key's name is passed on to
 * the call's log line.
 */
export function connectAdmission(policy: CallPolicy): NonNullable<RpcHandlerOptions["admit"]> {
  return (procedure, req, values) => {
    const header = nodeHeader(req);
    const admitted = admit(policy, procedure, protocolOf(header("content-type") ?? null), header, connectionOf(req));
    if (admitted instanceof ConnectError) return admitted;
    if (admitted !== undefined) values.set(keyNameKey, admitted);
    return undefined;
  };
}

/** Outermost: request id, one log line (and metrics) per call, and no internal error detail to clients. */
export function callLogInterceptor(policy: CallPolicy): Interceptor {
  return (next) => async (req) => {
    // Calls that never get here are logged by the RPC handler (onRejected).
    const progress = req.contextValues.get(callStartedKey);
    if (progress) progress.started = true;
    const header = (n: string) => req.header.get(n);
    const call = policy.begin(
      `/${req.service.typeName}/${req.method.name}`,
      protocolOf(req.header.get("content-type")),
      header,
      req.contextValues.get(connectionKey),
    );
    const keyName = req.contextValues.get(keyNameKey);
    if (keyName !== undefined) call.identify(keyName);
    if (call.trace !== undefined) req.contextValues.set(tracedCallKey, call.trace);
    // Once the client has left, the call is CANCELLED whatever the handler did next.
    const outcome = (e?: unknown) => (req.signal.aborted ? endedBySignal(req.signal.reason) : e);
    let res: UnaryResponse | StreamResponse;
    try {
      res = await next(req);
    } catch (e) {
      throw call.finish(outcome(e));
    }
    res.header.set("x-request-id", call.requestId);
    if (!res.stream) {
      res.header.set("x-response-time-ms", call.elapsedMs().toFixed(2));
      call.finish(outcome());
      return res;
    }
    const cancelled = () => call.finish(endedBySignal(req.signal.reason));
    // A stream the handler ended is OK only once its trailers are out: a client
    // may still reset it before, having half-closed its side.
    const completed = () => (progress ? void progress.written.then((whole) => (whole ? call.finish() : cancelled())) : call.finish(outcome()));
    return { ...res, message: finishWhenDone(res.message, { completed, failed: (e) => call.finish(outcome(e)), stopped: cancelled }) };
  };
}

/**
 * The response stream, finishing the call when the handler ends it, when it
 * fails, or when the server adapter stops reading it (only ever because the
 * client is gone).
 */
async function* finishWhenDone<T>(source: AsyncIterable<T>, end: { completed(): void; failed(reason: unknown): unknown; stopped(): void }): AsyncIterable<T> {
  let settled = false;
  try {
    yield* source;
    settled = true;
  } catch (e) {
    settled = true;
    throw end.failed(e);
  } finally {
    if (!settled) end.stopped();
  }
  end.completed();
}

/** The contract's field rules, for every request message, before any handler runs. */
export function validationInterceptor(policy: CallPolicy): Interceptor {
  return (next) => async (req) => {
    const schema = req.method.input;
    if (!req.stream) {
      policy.validate(schema, req.message);
      return next(req);
    }
    return next({ ...req, message: validateEach(req.message, schema, policy) });
  };
}

async function* validateEach<T extends Message>(source: AsyncIterable<T>, schema: DescMessage, policy: CallPolicy): AsyncIterable<T> {
  for await (const message of source) {
    policy.validate(schema, message);
    yield message;
  }
}
