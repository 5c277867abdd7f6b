// The Connect interceptors: thin adapters from Connect's request and response
// shapes to the plain CallPolicy, so every call on every protocol, unary or
// streamed, runs the same policy code (the unary fast path calls it too).
import type { Interceptor } from "@connectrpc/connect";
import type { DescMessage } from "@bufbuild/protobuf";
import { protocolOf } from "./policy/call-context.js";
import type { CallPolicy } from "./policy/call-policy.js";
import { callStartedKey } from "./transport/rpc-handler.js";

/** Outermost: request id, one log line (and metrics) per call, and no internal error detail to clients. */
export function callLogInterceptor(policy: CallPolicy): Interceptor {
  return (next) => async (req) => {
    // Calls that never get here are logged by the RPC handler (onRejected).
    const started = req.contextValues.get(callStartedKey);
    if (started) started.started = true;
    const header = (n: string) => req.header.get(n);
    const call = policy.begin(`/${req.service.typeName}/${req.method.name}`, protocolOf(req.header.get("content-type")), header);
    let res;
    try {
      res = await next(req);
    } catch (e) {
      throw call.finish(e);
    }
    res.header.set("x-request-id", call.requestId);
    if (!res.stream) {
      res.header.set("x-response-time-ms", call.elapsedMs().toFixed(2));
      call.finish();
      return res;
    }
    return { ...res, message: finishWhenDone(res.message, (e) => call.finish(e)) };
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

async function* validateEach<T extends object>(source: AsyncIterable<T>, schema: DescMessage, policy: CallPolicy): AsyncIterable<T> {
  for await (const message of source) {
    policy.validate(schema, message as never);
    yield message;
  }
}
