// API key policy: where a key is read from, and how it is checked.
import { createHash, timingSafeEqual } from "node:crypto";
import type { HeaderLookup } from "./call-context.js";

/** The key from `x-api-key`, or from `authorization: Bearer <key>`. */
export function extractApiKey(header: HeaderLookup): string | undefined {
  const direct = header("x-api-key");
  if (direct) return direct.trim();
  const auth = header("authorization");
  const m = auth ? /^Bearer\s+(.+)$/i.exec(auth.trim()) : null;
  return m ? m[1].trim() : undefined;
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Checks keys in constant time. Keys are compared as SHA-256 digests, so the
 * comparison time depends on neither the candidate's length nor its content,
 * and every configured key is compared (no early exit).
 */
export class ApiKeyVerifier {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new Error("at least one API key is required");
    this.digests = keys.map(digest);
  }

  verify(candidate: string | undefined): boolean {
    const d = digest(candidate ?? "");
    let ok = false;
    for (const k of this.digests) ok = timingSafeEqual(k, d) || ok;
    return ok && candidate !== undefined && candidate !== "";
  }
}
