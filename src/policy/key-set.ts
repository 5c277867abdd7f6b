// The accepted keys as the call policy uses them: a digest per key, and what
// each key may do (its methods, its rate).
import { createHash, timingSafeEqual } from "node:crypto";
import type { KeyEntry } from "./key-file.js";
import { TokenBucket } from "./token-bucket.js";

export interface ApiKeyRecord {
  readonly name: string;
  readonly digest: Buffer;
  /** Procedure paths the key may call; undefined = every one. */
  readonly paths?: ReadonlySet<string>;
  readonly bucket?: TokenBucket;
}

/** Name of the nth key from API_KEYS (development); the ':' keeps it apart from any file name. */
export const envKeyName = (i: number) => `env:${i}`;

export class KeySet {
  constructor(readonly records: readonly ApiKeyRecord[]) {}

  /**
   * Builds the set from API_KEYS keys and file entries. `services` are the
   * protected services (a key's methods are scoped in each). A key that keeps
   * its name and rate across a reload keeps its bucket, so a reload does not
   * refill it.
   */
  static build(envKeys: readonly string[], entries: readonly KeyEntry[], services: readonly string[], previous?: KeySet): KeySet {
    const fromEnv = envKeys.map((key, i): ApiKeyRecord => ({ name: envKeyName(i), digest: digest(key) }));
    const fromFile = entries.map((e): ApiKeyRecord => {
      const old = previous?.records.find((r) => r.name === e.name);
      return {
        name: e.name,
        digest: Buffer.from(e.sha256, "hex"),
        paths: e.methods && new Set(services.flatMap((s) => e.methods!.map((m) => `/${s}/${m}`))),
        bucket: e.rate === undefined ? undefined : old?.bucket?.rate === e.rate ? old.bucket : new TokenBucket(e.rate),
      };
    });
    return new KeySet([...fromEnv, ...fromFile]);
  }

  /**
   * The record of `candidate`, compared in constant time as SHA-256 digests:
   * the time depends on neither its length nor its content, and every key is
   * compared (no early exit).
   */
  find(candidate: string): ApiKeyRecord | undefined {
    const d = digest(candidate);
    let found: ApiKeyRecord | undefined;
    for (const r of this.records) if (timingSafeEqual(r.digest, d)) found ??= r;
    return found;
  }
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
