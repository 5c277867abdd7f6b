// The base64 reader of gRPC-Web's text mode: pieces padded one by one,
// chunks split anywhere, line breaks, and what is not base64.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { decodeBase64Stream, decodeBase64Text, encodeBase64Stream } from "../src/codec/base64-text.js";

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p, "latin1");
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = [];
  for await (const c of body) out.push(c);
  return Buffer.concat(out);
}

describe("decodeBase64Text", () => {
  it("reads one piece, padded or not", () => {
    expect(decodeBase64Text("QUJD").toString()).toBe("ABC");
    expect(decodeBase64Text("QUI=").toString()).toBe("AB");
    expect(decodeBase64Text("QUI").toString()).toBe("AB");
    expect(decodeBase64Text("").length).toBe(0);
  });

  it("reads pieces each padded on its own, where Node's decoder stops at the first =", () => {
    expect(Buffer.from("QQ==QUI=", "base64").toString()).toBe("A");
    expect(decodeBase64Text("QQ==QUI=QUJD").toString()).toBe("AABABC");
  });

  it("skips line breaks", () => {
    expect(decodeBase64Text("QUJD\r\nQQ==\n").toString()).toBe("ABCA");
  });

  it("refuses what is not base64 with INVALID_ARGUMENT", () => {
    for (const bad of ["QU*D", "Q", "QQ=A", "QQ===", "QUJDQ"]) {
      const e = (() => {
        try {
          decodeBase64Text(bad);
        } catch (err) {
          return err;
        }
      })();
      expect(e, bad).toBeInstanceOf(ConnectError);
      expect((e as ConnectError).code).toBe(Code.InvalidArgument);
    }
  });
});

describe("decodeBase64Stream", () => {
  it("decodes chunks split inside groups and padded pieces", async () => {
    expect((await collect(decodeBase64Stream(chunks("Q", "Q==Q", "UI=QU", "JD")))).toString()).toBe("AABABC");
  });

  it("round-trips with encodeBase64Stream, chunk by chunk", async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) % 256));
    const encoded = encodeBase64Stream(
      (async function* () {
        for (let i = 0; i < bytes.length; i += 97) yield bytes.subarray(i, i + 97);
      })(),
    );
    expect(await collect(decodeBase64Stream(encoded))).toEqual(bytes);
  });
});
