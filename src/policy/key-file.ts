// The API key file (API_KEYS_FILE): its format, and the hashing that keeps
// keys out of it. The server reads it; the `keys` command writes it.
//
//   {
//     "version": 1,
//     "keys": [
//       { "name": "batch-jobs", "sha256": "<64 hex>", "methods": ["PredictBatch"], "rate": 5, "created": "2026-12-06T18:00:00.000Z" }
//     ]
//   }
//
// Only SHA-256 digests are stored: a leaked file does not leak a key.
import { createHash, randomBytes } from "node:crypto";

export const KEY_FILE_VERSION = 1;

export interface KeyEntry {
  /** Unique; names the key in logs, metrics and error messages. */
  name: string;
  /** Lower-case hex SHA-256 of the key's UTF-8 bytes. */
  sha256: string;
  /** Method names (as in the contract, e.g. "Predict") the key may call; absent = every method. */
  methods?: string[];
  /** Calls per second, burst the same; absent = unlimited. */
  rate?: number;
  /** ISO 8601 time the key was added. */
  created: string;
}

/** A file that breaks the format; the message names the line or the field. */
export class KeyFileError extends Error {}

/** Names go into log lines, label values and messages, so they are plain tokens. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const MAX_RATE = 1_000_000;

export const hashKey = (key: string): string => createHash("sha256").update(key, "utf8").digest("hex");

/** A new key: 32 random bytes, base64url (43 characters, safe in any header). */
export const newApiKey = (): string => randomBytes(32).toString("base64url");

export function validName(name: string): boolean {
  return NAME.test(name);
}

/** The keys in `text`; `methods` are the method names a key may be scoped to. */
export function parseKeyFile(text: string, methods: readonly string[]): KeyEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new KeyFileError(`not valid JSON${whereInText(text)}`);
  }
  if (!isObject(doc)) throw new KeyFileError('expected a JSON object with "version" and "keys"');
  if (doc.version !== KEY_FILE_VERSION) throw new KeyFileError(`"version": expected ${KEY_FILE_VERSION}, got ${JSON.stringify(doc.version)}`);
  if (!Array.isArray(doc.keys)) throw new KeyFileError('"keys": expected an array');
  const names = new Set<string>();
  const digests = new Set<string>();
  return doc.keys.map((raw: unknown, i: number) => {
    const entry = parseEntry(raw, `keys[${i}]`, methods);
    if (names.has(entry.name)) throw new KeyFileError(`keys[${i}].name: "${entry.name}" is used twice`);
    if (digests.has(entry.sha256)) throw new KeyFileError(`keys[${i}].sha256: the same key is listed twice`);
    names.add(entry.name);
    digests.add(entry.sha256);
    return entry;
  });
}

function parseEntry(raw: unknown, at: string, known: readonly string[]): KeyEntry {
  if (!isObject(raw)) throw new KeyFileError(`${at}: expected an object`);
  for (const field of Object.keys(raw)) {
    if (!["name", "sha256", "methods", "rate", "created"].includes(field)) throw new KeyFileError(`${at}.${field}: unknown field`);
  }
  const { name, sha256, methods, rate, created } = raw;
  if (typeof name !== "string" || !NAME.test(name)) throw new KeyFileError(`${at}.name: expected 1-64 letters, digits, '.', '_' or '-'`);
  const field = (f: string) => `${at}.${f} (key '${name}')`;
  if (typeof sha256 !== "string" || !SHA256_HEX.test(sha256)) throw new KeyFileError(`${field("sha256")}: expected 64 lower-case hex digits`);
  if (typeof created !== "string" || Number.isNaN(Date.parse(created))) throw new KeyFileError(`${field("created")}: expected an ISO 8601 time`);
  if (rate !== undefined && (typeof rate !== "number" || !Number.isInteger(rate) || rate < 1 || rate > MAX_RATE)) {
    throw new KeyFileError(`${field("rate")}: expected an integer in 1..${MAX_RATE}`);
  }
  return { name, sha256, methods: methods === undefined ? undefined : parseMethods(methods, field("methods"), known), rate, created };
}

/** Method names, each one the contract has; `at` names the field in errors. */
export function parseMethods(value: unknown, at: string, known: readonly string[]): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new KeyFileError(`${at}: expected a non-empty list of method names`);
  for (const m of value) {
    if (typeof m !== "string" || !known.includes(m)) throw new KeyFileError(`${at}: ${JSON.stringify(m)} is not a method; expected one of ${known.join(", ")}`);
  }
  return [...new Set(value as string[])];
}

export function formatKeyFile(entries: readonly KeyEntry[]): string {
  return `${JSON.stringify({ version: KEY_FILE_VERSION, keys: entries }, null, 2)}\n`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Where JSON.parse stopped, as " at line L, column C". Its own message is not
 * passed on (some Node versions quote the text, which holds digests, and not
 * all give a position): the offset is the end of the longest prefix that
 * could still begin a valid document.
 */
function whereInText(text: string): string {
  let good = 0;
  let bad = text.length;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    if (couldContinue(text.slice(0, mid))) good = mid;
    else bad = mid;
  }
  const before = text.slice(0, couldContinue(text.slice(0, bad)) ? bad : good);
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return ` at line ${line}, column ${column}`;
}

/** True if `prefix` is valid JSON or breaks off only at its end. */
function couldContinue(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (e) {
    const message = (e as Error).message;
    const at = /at position (\d+)/.exec(message);
    return /end of JSON input/.test(message) || (at !== null && Number(at[1]) >= prefix.length);
  }
}
