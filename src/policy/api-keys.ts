// API key policy: where a key is read from, and how it is checked.
import { createHash, timingSafeEqual } from "node:crypto";
import type { HeaderLookup } from "./call-context.js";

/**
 * The key from `x-api-key`, or from `authorization: Bearer <key>`, without
 * the spaces and tabs around it: RFC 9110 (5.5) makes them no part of a field
 * value, so a padded key is the same key on every protocol.
 */
export function extractApiKey(header: HeaderLookup): string | undefined {
  const direct = header("x-api-key");
  if (direct) return withoutOws(direct);
  const auth = header("authorization");
  const m = auth ? /^Bearer\s+(.+)$/i.exec(withoutOws(auth)) : null;
  return m ? withoutOws(m[1]) : undefined;
}

/** Without leading and trailing SP and HTAB (RFC 9110's OWS; other characters are the key's); no copy when there are none. */
function withoutOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

const isOws = (c: number) => c === 0x20 || c === 0x09;

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Checks keys in constant time. Keys are compared as SHA-256 digests, so the
 * comparison time depends on neither the candidate's length nor its content,
 * and every configured key is compared (no early exit).
 *
 * A key that passed is remembered for the connection it came on, and the
 * next call there that presents the same bytes skips the hashing: in A/B runs
 * of the server at c=64 the key check cost up to a tenth of a Predict call.
 * The remembered key is compared in constant time too; what another call on
 * the same connection (a proxy's, say) could learn from the timing is only
 * whether its candidate has the remembered key's length.
 */
export class ApiKeyVerifier {
  private readonly digests: Buffer[];
  private readonly passed = new WeakMap<object, Buffer>();

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error("at least one API key is required");
    this.digests = keys.map(digest);
  }

  /** True for a configured key; `connection` (an HTTP/2 session or a socket) lets a key that passed there pass again cheaply. */
  verify(candidate: string | undefined, connection?: object): boolean {
    if (candidate === undefined || candidate === "") return false;
    if (connection !== undefined) {
      const known = this.passed.get(connection);
      if (known !== undefined) {
        const given = Buffer.from(candidate, "utf8");
        if (given.length === known.length && timingSafeEqual(given, known)) return true;
      }
    }
    const ok = this.compareAll(candidate);
    if (ok && connection !== undefined) this.passed.set(connection, Buffer.from(candidate, "utf8"));
    return ok;
  }

  private compareAll(candidate: string): boolean {
    const d = digest(candidate);
    let ok = false;
    for (const k of this.digests) ok = timingSafeEqual(k, d) || ok;
    return ok;
  }
}
