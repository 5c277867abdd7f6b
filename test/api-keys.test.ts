// The API key check on its own, without a server: which keys pass, that a
// key remembered for a connection never lets another key through nor
// outlives a new key set, the key file's format, and the token bucket.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { SCOPABLE_METHODS } from "../src/config.js";
import { ApiKeyVerifier, extractApiKey } from "../src/policy/api-keys.js";
import { formatKeyFile, hashKey, newApiKey, parseKeyFile, type KeyEntry } from "../src/policy/key-file.js";
import { KeySet } from "../src/policy/key-set.js";
import { TokenBucket } from "../src/policy/token-bucket.js";

const header = (h: Record<string, string>) => (name: string) => h[name];
const METHODS = ["Predict", "PredictBatch"];
const SERVICE = "prediction.v1.PredictionService";
const entry = (name: string, key: string, extra: Partial<KeyEntry> = {}): KeyEntry => ({
  name,
  sha256: hashKey(key),
  created: "2026-12-06T18:00:00.000Z",
  ...extra,
});

describe("ApiKeyVerifier", () => {
  const verifier = () => new ApiKeyVerifier(KeySet.build(["key-one", "key-two"], [], [SERVICE]));

  it("passes every configured key, by name, and nothing else", () => {
    const v = verifier();
    expect(v.verify("key-one")?.name).toBe("env:0");
    expect(v.verify("key-two")?.name).toBe("env:1");
    for (const bad of ["key-on", "key-one ", "KEY-ONE", "key-three", "", undefined]) expect(v.verify(bad)).toBeUndefined();
  });

  it("on a connection where a key passed, still refuses every other key", () => {
    const v = verifier();
    const conn = {};
    expect(v.verify("key-one", conn)?.name).toBe("env:0");
    expect(v.verify("key-one", conn)?.name).toBe("env:0");
    // Same length as the remembered key, one character apart; a prefix; empty.
    for (const bad of ["key-onf", "key-on", "key-one-x", "", undefined]) expect(v.verify(bad, conn)).toBeUndefined();
    // Another configured key on the same connection is checked in full and passes.
    expect(v.verify("key-two", conn)?.name).toBe("env:1");
    expect(v.verify("key-one", conn)?.name).toBe("env:0");
  });

  it("remembers nothing from a refused key", () => {
    const v = verifier();
    const conn = {};
    expect(v.verify("not-a-key", conn)).toBeUndefined();
    expect(v.verify("not-a-key", conn)).toBeUndefined();
    expect(v.verify("key-one", conn)?.name).toBe("env:0");
  });

  it("keeps connections apart", () => {
    const v = verifier();
    const a = {};
    const b = {};
    expect(v.verify("key-one", a)).toBeDefined();
    expect(v.verify("key-two", b)).toBeDefined();
    expect(v.verify("key-on", b)).toBeUndefined();
    expect(v.verify("key-tw", a)).toBeUndefined();
  });

  it("compares characters, not just lengths", () => {
    const v = new ApiKeyVerifier(KeySet.build(["clé-été"], [], []));
    const conn = {};
    expect(v.verify("clé-été", conn)).toBeDefined();
    expect(v.verify("cle-ete", conn)).toBeUndefined();
    expect(v.verify("clé-été", conn)).toBeDefined();
  });

  it("refuses a key remembered for a connection once a set without it replaces the old one", () => {
    const v = new ApiKeyVerifier(KeySet.build([], [entry("a", "key-a"), entry("b", "key-b")], [SERVICE]));
    const conn = {};
    expect(v.verify("key-a", conn)?.name).toBe("a");
    expect(v.verify("key-a", conn)?.name).toBe("a");
    v.replace(KeySet.build([], [entry("b", "key-b")], [SERVICE]));
    expect(v.verify("key-a", conn)).toBeUndefined();
    expect(v.verify("key-b", conn)?.name).toBe("b");
  });

  it("gives a key that stays across a replacement its new scope", () => {
    const v = new ApiKeyVerifier(KeySet.build([], [entry("a", "key-a")], [SERVICE]));
    const conn = {};
    expect(v.verify("key-a", conn)?.paths).toBeUndefined();
    v.replace(KeySet.build([], [entry("a", "key-a", { methods: ["Predict"] })], [SERVICE]));
    expect([...(v.verify("key-a", conn)?.paths ?? [])]).toEqual([`/${SERVICE}/Predict`]);
  });
});

describe("KeySet.build", () => {
  it("keeps a key's bucket across a reload while its rate stays, and starts a new one when it changes", () => {
    const first = KeySet.build([], [entry("a", "key-a", { rate: 2 })], [SERVICE]);
    const same = KeySet.build([], [entry("a", "key-a", { rate: 2 })], [SERVICE], first);
    const faster = KeySet.build([], [entry("a", "key-a", { rate: 3 })], [SERVICE], same);
    expect(same.records[0].bucket).toBe(first.records[0].bucket);
    expect(faster.records[0].bucket).not.toBe(first.records[0].bucket);
    expect(faster.records[0].bucket?.rate).toBe(3);
  });
});

describe("key file", () => {
  const good = [entry("batch-jobs", "k1", { methods: ["PredictBatch"], rate: 5 }), entry("web", "k2")];

  it("reads back what it writes", () => {
    expect(parseKeyFile(formatKeyFile(good), METHODS)).toEqual(good);
  });

  it("names the field that breaks the format, and never echoes a digest", () => {
    const bad =
      (keys: unknown[], version: unknown = 1) =>
      () =>
        parseKeyFile(JSON.stringify({ version, keys }), METHODS);
    const digest = hashKey("k1");
    expect(bad([], 2)).toThrow(/"version": expected 1/);
    expect(bad([{ ...good[0], sha256: digest.toUpperCase() }])).toThrow(/keys\[0\]\.sha256 \(key 'batch-jobs'\): expected 64 lower-case hex/);
    expect(bad([good[0], { ...good[1], methods: ["Predict", "Train"] }])).toThrow(/keys\[1\]\.methods \(key 'web'\): "Train" is not a method/);
    expect(bad([{ ...good[0], rate: 0 }])).toThrow(/keys\[0\]\.rate/);
    expect(bad([{ ...good[0], rate: 1.5 }])).toThrow(/keys\[0\]\.rate/);
    expect(bad([{ ...good[0], name: "has space" }])).toThrow(/keys\[0\]\.name/);
    expect(bad([{ ...good[0], key: "plaintext" }])).toThrow(/keys\[0\]\.key: unknown field/);
    expect(bad([good[0], { ...good[1], name: "batch-jobs" }])).toThrow(/keys\[1\]\.name: "batch-jobs" is used twice/);
    expect(bad([good[0], { ...good[1], sha256: good[0].sha256 }])).toThrow(/keys\[1\]\.sha256: the same key is listed twice/);
    expect(bad([{ ...good[0], created: "yesterday" }])).toThrow(/keys\[0\]\.created/);
    for (const f of [bad([{ ...good[0], sha256: `${digest}0` }]), bad([good[0], { ...good[1], sha256: digest }])]) {
      expect(f).toThrow();
      try {
        f();
      } catch (e) {
        expect((e as Error).message).not.toContain(digest.slice(0, 8));
      }
    }
  });

  it("gives the line and column of a JSON syntax error, without quoting the file", () => {
    const text = formatKeyFile(good).replace('"web",', '"web"');
    expect(() => parseKeyFile(text, METHODS)).toThrow(/^not valid JSON at line 15, column 7$/);
  });

  it("accepts the file in deploy/secret.example.yaml", () => {
    const secret = parseYaml(readFileSync("deploy/secret.example.yaml", "utf8")) as { stringData: Record<string, string> };
    expect(parseKeyFile(secret.stringData["api-keys.json"], SCOPABLE_METHODS).map((e) => e.name)).toEqual(["batch-jobs"]);
  });

  it("makes keys of 32 random bytes, base64url", () => {
    const a = newApiKey();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(newApiKey()).not.toBe(a);
    expect(hashKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

describe("TokenBucket", () => {
  it("admits a burst of `rate` calls, then one per 1/rate seconds, and says how long to wait", () => {
    const b = new TokenBucket(4, 0);
    for (let i = 0; i < 4; i++) expect(b.take(0)).toBe(0);
    expect(b.take(0)).toBe(250);
    expect(b.take(100)).toBeCloseTo(150);
    expect(b.take(250)).toBe(0);
    expect(b.take(250)).toBe(250);
    // A long pause refills it to the burst, no more.
    for (let i = 0; i < 4; i++) expect(b.take(60_000)).toBe(0);
    expect(b.take(60_000)).toBe(250);
  });
});

describe("extractApiKey", () => {
  it("reads x-api-key first, then a Bearer token, trimmed", () => {
    expect(extractApiKey(header({ "x-api-key": " k1 ", authorization: "Bearer k2" }))).toBe("k1");
    expect(extractApiKey(header({ authorization: "bearer   k2 " }))).toBe("k2");
    expect(extractApiKey(header({ authorization: "Basic abc" }))).toBeUndefined();
    expect(extractApiKey(header({}))).toBeUndefined();
  });

  it("drops only the spaces and tabs around a value (RFC 9110 OWS), nothing else", () => {
    expect(extractApiKey(header({ "x-api-key": "\t k1 \t" }))).toBe("k1");
    expect(extractApiKey(header({ authorization: " Bearer\tk2\t " }))).toBe("k2");
    expect(extractApiKey(header({ "x-api-key": "k 1" }))).toBe("k 1");
    // No-break space (0xA0 in a Latin-1 header) is part of the value: JavaScript's trim() would drop it.
    expect(extractApiKey(header({ "x-api-key": "\u00a0k1\u00a0" }))).toBe("\u00a0k1\u00a0");
    expect(extractApiKey(header({ "x-api-key": "k1\n" }))).toBe("k1\n");
  });
});
