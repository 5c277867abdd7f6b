// The key check at the head of every call, on its headers alone: a call
// without a valid key is refused before any byte of its body is read, so a
// keyless upload costs the server neither memory nor parsing.
import type { ConnectError } from "@connectrpc/connect";
import type { HeaderLookup, Protocol } from "./call-context.js";
import type { CallPolicy } from "./call-policy.js";

/**
 * Undefined when the call may go on; otherwise the error to answer it with,
 * already logged and counted. Every path calls this once per call, before
 * reading the body; nothing checks the key again after it.
 */
export function admit(policy: CallPolicy, procedure: string, protocol: Protocol, header: HeaderLookup, connection: object): ConnectError | undefined {
  try {
    policy.authorize(procedure, header, connection);
    return undefined;
  } catch (e) {
    return policy.begin(procedure, protocol, header).finish(e);
  }
}
