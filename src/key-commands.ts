// The `keys` command's work (see keys-cli.ts): add, revoke and list the keys
// of API_KEYS_FILE (or --file PATH). A new key is printed once, alone on the
// last line of stdout (notes go to stderr), and only its SHA-256 is stored.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SCOPABLE_METHODS } from "./config.js";
import { formatKeyFile, hashKey, KeyFileError, newApiKey, parseKeyFile, parseMethods, validName, type KeyEntry } from "./policy/key-file.js";

const USAGE = `usage: npm run keys -- <command> [--file PATH]
  add NAME [--methods ${SCOPABLE_METHODS.slice(0, 2).join(",")}] [--rate N]   new key, printed once
  revoke NAME                                       remove the key named NAME
  list                                              names, methods, rates (never keys)
The file is --file PATH, or else $API_KEYS_FILE.`;

class UsageError extends Error {}

interface Args {
  command: string;
  name?: string;
  file: string;
  methods?: string;
  rate?: string;
}

function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv): Args {
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const [flag, inline] = arg.slice(2).split("=", 2);
    if (!["file", "methods", "rate"].includes(flag)) throw new UsageError(`unknown option --${flag}`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${flag} needs a value`);
    options[flag] = value;
  }
  const [command, name, ...extra] = positional;
  if (command === undefined) throw new UsageError("no command");
  if (extra.length > 0) throw new UsageError(`unexpected ${extra.join(" ")}`);
  const file = options.file ?? env.API_KEYS_FILE;
  if (!file) throw new UsageError("no key file: pass --file PATH or set API_KEYS_FILE");
  return { command, name, file, methods: options.methods, rate: options.rate };
}

/** The entries in `file`; none if it does not exist yet. */
function readEntries(file: string): KeyEntry[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  try {
    return parseKeyFile(text, SCOPABLE_METHODS);
  } catch (e) {
    throw e instanceof KeyFileError ? new KeyFileError(`${file}: ${e.message}`) : e;
  }
}

/** Replaces `file` whole (temp file + rename), readable by its owner only: a server never reads half a file. */
function writeEntries(file: string, entries: readonly KeyEntry[]): void {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, formatKeyFile(entries));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temp, file);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}

function requireName(args: Args): string {
  if (args.name === undefined) throw new UsageError(`${args.command} needs a NAME`);
  if (!validName(args.name)) throw new UsageError(`NAME must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)`);
  return args.name;
}

function add(args: Args, out: Output): void {
  const name = requireName(args);
  const entries = readEntries(args.file);
  if (entries.some((e) => e.name === name)) throw new UsageError(`a key named '${name}' exists: revoke it first, or pick another name`);
  const methods =
    args.methods === undefined
      ? undefined
      : parseMethods(
          args.methods.split(",").map((m) => m.trim()),
          "--methods",
          SCOPABLE_METHODS,
        );
  const rate = args.rate === undefined ? undefined : Number(args.rate);
  if (rate !== undefined && (!Number.isInteger(rate) || rate < 1)) throw new UsageError("--rate must be a whole number of calls per second, at least 1");
  const key = newApiKey();
  const entry: KeyEntry = { name, sha256: hashKey(key), methods, rate, created: new Date().toISOString() };
  // Through the parser, so the CLI never writes a file the server would refuse.
  const next = parseKeyFile(formatKeyFile([...entries, entry]), SCOPABLE_METHODS);
  writeEntries(args.file, next);
  out.note(`added key '${name}' to ${args.file} (${describe(entry)}). It is shown once, below, and not stored:`);
  out.line(key);
}

function revoke(args: Args, out: Output): void {
  const name = requireName(args);
  const entries = readEntries(args.file);
  const rest = entries.filter((e) => e.name !== name);
  if (rest.length === entries.length) throw new UsageError(`no key named '${name}' in ${args.file}`);
  writeEntries(args.file, rest);
  out.note(`revoked key '${name}': servers watching ${args.file} refuse it within 5 s`);
}

function list(args: Args, out: Output): void {
  const entries = readEntries(args.file);
  if (entries.length === 0) out.note(`no keys in ${args.file}`);
  for (const e of entries) out.line(`${e.name}\t${describe(e)}\tcreated ${e.created}`);
}

const describe = (e: KeyEntry) => `methods: ${e.methods?.join(",") ?? "all"}; rate: ${e.rate === undefined ? "unlimited" : `${e.rate}/s`}`;

export interface Output {
  /** stdout: what a script reads. */
  line(text: string): void;
  /** stderr: what a person reads. */
  note(text: string): void;
}

/** Runs one command; returns the exit code. */
export function runKeysCommand(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output): number {
  try {
    const args = parseArgs(argv, env);
    const commands: Record<string, (a: Args, o: Output) => void> = { add, revoke, list };
    const run = commands[args.command];
    if (!run) throw new UsageError(`unknown command '${args.command}'`);
    run(args, out);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      out.note(`keys: ${e.message}\n${USAGE}`);
      return 2;
    }
    out.note(`keys: ${(e as Error).message}`);
    return 1;
  }
}
