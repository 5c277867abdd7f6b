// The bench commands' option reader (bench/lib/cli.ts): a bad value must stop
// the command before it starts a ten-minute run, with the flag named.
import { describe, expect, it } from "vitest";
import { readOptions, type Option } from "../bench/lib/cli.js";

class Usage extends Error {}
const usage = (error?: string): never => {
  throw new Usage(error ?? "help");
};

function read(argv: string[], on: (o: Option, seen: Record<string, unknown>) => void) {
  const seen: Record<string, unknown> = {};
  const positional: string[] = [];
  readOptions(
    argv,
    usage,
    (o) => on(o, seen),
    (arg) => positional.push(arg),
  );
  return { seen, positional };
}

describe("readOptions", () => {
  it("reads --flag value, --flag=value, lists and positional arguments", () => {
    const { seen, positional } = read(["HEAD", "--pairs", "3", "--levels=1,16, 64", "--env-b=A=b=c", ".", "--only", " grpc, ,json", "--quick"], (o, s) => {
      if (o.flag === "--pairs") s.pairs = o.number(1, true);
      else if (o.flag === "--levels") s.levels = o.numbers(1, true);
      else if (o.flag === "--env-b") s.env = o.value();
      else if (o.flag === "--only") s.only = o.list();
      else s[o.flag] = true;
    });
    expect(seen).toEqual({ pairs: 3, levels: [1, 16, 64], env: "A=b=c", only: ["grpc", "", "json"], "--quick": true });
    expect(positional).toEqual(["HEAD", "."]);
  });

  it.each([
    [["--pairs", "abc"], "--pairs wants a whole number of at least 1, got abc"],
    [["--pairs", "2.5"], "--pairs wants a whole number of at least 1, got 2.5"],
    [["--pairs", "0"], "--pairs wants a whole number of at least 1, got 0"],
    [["--pairs="], "--pairs wants a whole number of at least 1, got "],
    [["--pairs"], "--pairs wants a value"],
    [["--levels", "1,,64"], "--levels wants a whole number of at least 1, got "],
    [["--duration", "5s"], "--duration wants a number of at least 0.1, got 5s"],
  ])("refuses %j with the flag named", (argv, message) => {
    const on = (o: Option) => {
      if (o.flag === "--levels") o.numbers(1, true);
      else if (o.flag === "--duration") o.number(0.1);
      else o.number(1, true);
    };
    expect(() => read(argv, on)).toThrow(new Usage(message));
  });

  it("calls usage() with no error for --help and -h, and refuses a positional argument nobody takes", () => {
    for (const flag of ["--help", "-h"]) expect(() => read([flag], () => {})).toThrow(new Usage("help"));
    expect(() => readOptions(["stray"], usage, () => {})).toThrow(new Usage("unexpected argument stray"));
  });
});
