// Small random edits to valid bytes and valid JSON text: close enough to
// the real thing to get past the first checks, wrong enough to hit the rest.

type Rand = () => number;

const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)]!;

export function randomBytes(r: Rand, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => int(r, 256));
}

/** One to four edits: flip a bit, set a byte, insert, delete, truncate or repeat a slice. */
export function mutateBytes(input: Uint8Array, r: Rand): Uint8Array {
  let b = Array.from(input);
  for (let n = 1 + int(r, 4); n > 0; n--) {
    const at = int(r, b.length + 1);
    switch (int(r, 6)) {
      case 0:
        if (at < b.length) b[at] = b[at]! ^ (1 << int(r, 8));
        break;
      case 1:
        if (at < b.length) b[at] = pick(r, [0x00, 0x7f, 0x80, 0xff, int(r, 256)]);
        break;
      case 2:
        b.splice(at, 0, ...randomBytes(r, 1 + int(r, 8)));
        break;
      case 3:
        b.splice(at, 1 + int(r, 8));
        break;
      case 4:
        b = b.slice(0, at);
        break;
      case 5:
        b.splice(at, 0, ...b.slice(int(r, b.length + 1), at));
        break;
    }
  }
  return Uint8Array.from(b);
}

// Tokens that trip JSON readers: structure, odd numbers (hex, huge, exponent), escapes, depth.
const JSON_TOKENS = [
  "{",
  "}",
  "[",
  "]",
  '"',
  ",",
  ":",
  "null",
  "true",
  "-0",
  "1e999",
  "0x1F",
  "0X10",
  "1_000",
  "NaN",
  "Infinity",
  "99999999999999999999999",
  "-9223372036854775809",
  '"\\u0000"',
  '"\\ud800"',
  "\\",
  '{"a":',
  "[".repeat(2000),
];

/** One to three edits of JSON text: a token in, a span out, or a number replaced by an odd one. */
export function mutateJson(text: string, r: Rand): string {
  let t = text;
  for (let n = 1 + int(r, 3); n > 0; n--) {
    const at = int(r, t.length + 1);
    switch (int(r, 4)) {
      case 0:
        t = t.slice(0, at) + pick(r, JSON_TOKENS) + t.slice(at);
        break;
      case 1:
        t = t.slice(0, at) + t.slice(at + 1 + int(r, 6));
        break;
      case 2:
        t = t.replace(/-?\d+(\.\d+)?/, pick(r, JSON_TOKENS.slice(10, 18)));
        break;
      case 3:
        t = t.slice(0, at);
        break;
    }
  }
  return t;
}

export { int, pick, type Rand };
