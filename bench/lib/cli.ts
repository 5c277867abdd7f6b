// How the bench commands read their options: `--flag value` or
// `--flag=value`, each value checked as it is read, and the command's usage()
// (which exits) on anything wrong, so a typo never runs a ten-minute bench
// with NaN in it.

export interface Option {
  /** The option as written, without a value (e.g. "--pairs"). */
  readonly flag: string;
  /** Its value: after "=", or the next argument. */
  value(): string;
  /** Its value as a number of at least `min`; `whole` also wants an integer. */
  number(min: number, whole?: boolean): number;
  /** Its value as a comma-separated list, each entry trimmed (empty entries kept). */
  list(): string[];
  /** Its value as a comma-separated list of numbers, each checked as number() does. */
  numbers(min: number, whole?: boolean): number[];
}

/**
 * Hands each option of `argv` to `option`, and each other argument to
 * `positional` (without one, such an argument is an error). `--help` and `-h`
 * call usage() with no error. `option` calls usage() for a flag it does not
 * know.
 */
export function readOptions(argv: readonly string[], usage: (error?: string) => never, option: (o: Option) => void, positional?: (arg: string) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") usage();
    if (!arg.startsWith("-")) {
      if (!positional) usage(`unexpected argument ${arg}`);
      positional(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    let taken: string | undefined;
    const value = () => {
      if (taken !== undefined) return taken;
      const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined) usage(`${flag} wants a value`);
      taken = v;
      return v;
    };
    const number = (min: number, whole = false, v = value()) => {
      const n = v.trim() === "" ? NaN : Number(v);
      if (!(n >= min) || (whole && !Number.isInteger(n))) usage(`${flag} wants ${whole ? "a whole number" : "a number"} of at least ${min}, got ${v}`);
      return n;
    };
    const list = () =>
      value()
        .split(",")
        .map((v) => v.trim());
    option({
      flag,
      value,
      list,
      number: (min, whole) => number(min, whole),
      numbers: (min, whole) => list().map((v) => number(min, whole, v)),
    });
  }
}
