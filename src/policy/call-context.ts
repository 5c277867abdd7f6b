// Facts about one call that every policy needs: who asked, over what, and the
// request id that ties the client's view to the server's log line.
import { randomUUID } from "node:crypto";

/** The three RPC protocols served on one port; metrics label calls by these names. */
export const PROTOCOLS = ["grpc", "grpc-web", "connect"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Reads one request header by lower-case name; the same policy code serves Fetch-style and Node headers. */
export type HeaderLookup = (name: string) => string | null | undefined;

/** The RPC protocol, from the request's content type (the three never overlap). */
export function protocolOf(contentType: string | null): Protocol {
  const ct = (contentType ?? "").toLowerCase();
  if (ct.startsWith("application/grpc-web")) return "grpc-web";
  if (ct.startsWith("application/grpc")) return "grpc";
  return "connect";
}

// A client-supplied id is echoed into logs, so accept only a short, plain token.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's `x-request-id` when it is a sane token, otherwise a new UUID. */
export function requestIdOf(header: HeaderLookup): string {
  const given = header("x-request-id");
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}
