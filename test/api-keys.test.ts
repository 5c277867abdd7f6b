// The API key check on its own, without a server: which keys pass, and that
// a key remembered for a connection never lets another key through.
import { describe, expect, it } from "vitest";
import { ApiKeyVerifier, extractApiKey } from "../src/policy/api-keys.js";

const header = (h: Record<string, string>) => (name: string) => h[name];

describe("ApiKeyVerifier", () => {
  const verifier = () => new ApiKeyVerifier(["key-one", "key-two"]);

  it("passes every configured key and nothing else", () => {
    const v = verifier();
    expect(v.verify("key-one")).toBe(true);
    expect(v.verify("key-two")).toBe(true);
    for (const bad of ["key-on", "key-one ", "KEY-ONE", "key-three", "", undefined]) expect(v.verify(bad)).toBe(false);
  });

  it("on a connection where a key passed, still refuses every other key", () => {
    const v = verifier();
    const conn = {};
    expect(v.verify("key-one", conn)).toBe(true);
    expect(v.verify("key-one", conn)).toBe(true);
    // Same length as the remembered key, one byte apart; a prefix; empty.
    for (const bad of ["key-onf", "key-on", "key-one-x", "", undefined]) expect(v.verify(bad, conn)).toBe(false);
    // Another configured key on the same connection is checked in full and passes.
    expect(v.verify("key-two", conn)).toBe(true);
    expect(v.verify("key-one", conn)).toBe(true);
  });

  it("remembers nothing from a refused key", () => {
    const v = verifier();
    const conn = {};
    expect(v.verify("not-a-key", conn)).toBe(false);
    expect(v.verify("not-a-key", conn)).toBe(false);
    expect(v.verify("key-one", conn)).toBe(true);
  });

  it("keeps connections apart", () => {
    const v = verifier();
    const a = {};
    const b = {};
    expect(v.verify("key-one", a)).toBe(true);
    expect(v.verify("key-two", b)).toBe(true);
    expect(v.verify("key-on", b)).toBe(false);
    expect(v.verify("key-tw", a)).toBe(false);
  });

  it("compares bytes, not JavaScript string lengths", () => {
    const v = new ApiKeyVerifier(["clé-été"]);
    const conn = {};
    expect(v.verify("clé-été", conn)).toBe(true);
    // Same UTF-16 length, different UTF-8 bytes.
    expect(v.verify("cle-ete", conn)).toBe(false);
    expect(v.verify("clé-été", conn)).toBe(true);
  });

  it("needs at least one key", () => {
    expect(() => new ApiKeyVerifier([])).toThrow(/at least one API key/);
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
