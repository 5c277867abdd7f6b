// The key check at the head of every call, on its headers alone: a call
// without a valid key is refused before any byte of its body is read, so a
// keyless upload costs the server neither memory nor parsing.
import { Code, ConnectError } from "@connectrpc/connect";
import type { HeaderLookup, Protocol } from "./call-context.js";
import type { CallPolicy } from "./call-policy.js";

/**
 * What admission decided: the error to answer with (already logged and
 * counted), or the name of the call's key (undefined for an open service).
 */
export type Admission = ConnectError | string | undefined;

/**
 * Admits or refuses a call. Every path calls this once per call, before
 * reading the body; nothing checks the key again after it.
 */
export function admit(policy: CallPolicy, procedure: string, protocol: Protocol, header: HeaderLookup, connection: object): Admission {
  try {
    return policy.authorize(procedure, header, connection);
  } catch (e) {
    const call = policy.begin(procedure, protocol, header, connection);
    // A valid key refused a method or a token: its name goes in the log line.
    if (e instanceof ConnectError && e.code !== Code.Unauthenticated) {
      const name = policy.keyNameOf(header, connection);
      if (name !== undefined) call.identify(name);
    }
    return call.finish(e);
  }
}
