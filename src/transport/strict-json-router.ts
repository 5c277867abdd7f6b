// A ConnectRouter whose JSON requests, on every protocol connect-node serves
// (Connect, gRPC-JSON, gRPC-Web-JSON, unary and streamed), have their numbers
// checked as the fast path checks them: a number given as a string must be
// decimal (codec/json-numbers.ts). connect-node decodes a JSON message's bytes
// with jsonOptions.textDecoder before protobuf-es parses the text; each method
// gets a decoder that knows its request schema.
import type { DescMessage } from "@bufbuild/protobuf";
import { createServiceImplSpec, type ConnectRouter, type MethodImplSpec } from "@connectrpc/connect";
import type { UniversalHandlerOptions } from "@connectrpc/connect/protocol";
import { findNonDecimalNumber } from "../codec/json-numbers.js";
import { nonDecimalNumber } from "../policy/errors.js";

type Options = Partial<UniversalHandlerOptions>;

const utf8 = new TextDecoder();

/** `router`, with every method registered through it given the check; `base` is the router's own jsonOptions. */
export function strictJsonRouter(router: ConnectRouter, base: Options["jsonOptions"]): ConnectRouter {
  const withCheck = (schema: DescMessage, options: Options = {}): Options => {
    const jsonOptions = {
      ...base,
      ...options.jsonOptions,
      textDecoder: {
        decode(bytes?: Uint8Array): string {
          const text = utf8.decode(bytes);
          const nonDecimal = findNonDecimalNumber(schema, text);
          if (nonDecimal) throw nonDecimalNumber(nonDecimal);
          return text;
        },
      },
    };
    return { ...options, jsonOptions };
  };
  const register = (spec: MethodImplSpec, options?: Options) => {
    const opts = withCheck(spec.method.input, options);
    switch (spec.kind) {
      case "unary":
        return router.rpc(spec.method, spec.impl, opts);
      case "server_streaming":
        return router.rpc(spec.method, spec.impl, opts);
      case "client_streaming":
        return router.rpc(spec.method, spec.impl, opts);
      case "bidi_streaming":
        return router.rpc(spec.method, spec.impl, opts);
    }
  };
  const strict: ConnectRouter = {
    handlers: router.handlers,
    service(service, implementation, options) {
      for (const spec of Object.values(createServiceImplSpec(service, implementation).methods)) register(spec, options);
      return strict;
    },
    rpc(method, impl, options) {
      router.rpc(method, impl, withCheck(method.input, options));
      return strict;
    },
  };
  return strict;
}
