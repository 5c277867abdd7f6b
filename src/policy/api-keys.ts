// API key policy: where a key is read from, and how it is checked.
import type { HeaderLookup } from "./call-context.js";
import type { ApiKeyRecord, KeySet } from "./key-set.js";

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

/** What a connection's last accepted key was, and under which key set. */
interface Accepted {
  generation: number;
  key: string;
  record: ApiKeyRecord;
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

/**
 * Checks keys against the current key set (see KeySet.find). A key that
 * passed is remembered for the connection it came on, with the generation of
 * the set it passed under; the next call there that presents the same key
 * skips the hashing while the set is unchanged. Replacing the set (a reload)
 * bumps the generation, so a revoked key is checked in full, and refused, on
 * the next call of every connection.
 *
 * The remembered key is compared in constant time without allocating; what
 * another call on the same connection (a proxy's, say) could learn from the
 * timing is only whether its candidate has the remembered key's length.
 */
export class ApiKeyVerifier {
  private generation = 0;
  private readonly passed = new WeakMap<object, Accepted>();

  constructor(private keys: KeySet) {}

  /** Takes a new key set: from now on only its keys pass, on every connection. */
  replace(keys: KeySet): void {
    this.keys = keys;
    this.generation++;
  }

  /** The key's record, or undefined if it is not in the set; `connection` (an HTTP/2 session or a socket) lets a key that passed there pass again cheaply. */
  verify(candidate: string | undefined, connection?: object): ApiKeyRecord | undefined {
    if (candidate === undefined || candidate === "") return undefined;
    const known = connection === undefined ? undefined : this.passed.get(connection);
    if (known !== undefined && known.generation === this.generation && sameString(candidate, known.key)) return known.record;
    const record = this.keys.find(candidate);
    if (record === undefined || connection === undefined) return record;
    if (known === undefined) {
      this.passed.set(connection, { generation: this.generation, key: candidate, record });
    } else {
      known.generation = this.generation;
      known.key = candidate;
      known.record = record;
    }
    return record;
  }
}

/** Equal strings, in time that depends only on the length of `given`. */
function sameString(given: string, known: string): boolean {
  if (given.length !== known.length) return false;
  let diff = 0;
  for (let i = 0; i < given.length; i++) diff |= given.charCodeAt(i) ^ known.charCodeAt(i);
  return diff === 0;
}
