// The key set in force and how it is replaced: API_KEYS (development) plus
// API_KEYS_FILE, re-read on demand. A file that cannot be read or parsed
// leaves the last good set in force: a typo neither opens nor closes the door.
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { ApiKeyVerifier } from "./api-keys.js";
import { KeyFileError, parseKeyFile, type KeyEntry } from "./key-file.js";
import { KeySet } from "./key-set.js";

export interface KeyFileContents {
  path: string;
  /** The text the entries were parsed from. */
  text: string;
  entries: KeyEntry[];
}

export interface KeyStoreOptions {
  envKeys: readonly string[];
  file?: KeyFileContents;
  /** Services whose calls need a key; a key's methods are scoped in each. */
  services: readonly string[];
  /** Method names a key may be scoped to. */
  methods: readonly string[];
  logger: Logger;
}

export class KeyStore {
  readonly verifier: ApiKeyVerifier;
  private set: KeySet;
  /** The file's text at the last reload, good or bad: an unchanged file is not parsed again. */
  private text: string | undefined;

  constructor(private readonly opts: KeyStoreOptions) {
    this.set = KeySet.build(opts.envKeys, opts.file?.entries ?? [], opts.services);
    this.text = opts.file?.text;
    this.verifier = new ApiKeyVerifier(this.set);
  }

  get path(): string | undefined {
    return this.opts.file?.path;
  }

  /** Names of the keys in force. */
  names(): string[] {
    return this.set.records.map((r) => r.name);
  }

  /** Re-reads the file if it changed (always if `force`); `reason` goes to the log line. */
  reload(reason: string, force = false): void {
    const { file, logger } = this.opts;
    if (!file) return;
    let text: string;
    try {
      text = readFileSync(file.path, "utf8");
    } catch (e) {
      logger.error(
        { file: file.path, reason, error: (e as NodeJS.ErrnoException).code ?? "unreadable" },
        "API_KEYS_FILE cannot be read: the last good keys stay in force",
      );
      return;
    }
    if (text === this.text && !force) return;
    this.text = text;
    let entries: KeyEntry[];
    try {
      entries = parseKeyFile(text, this.opts.methods);
    } catch (e) {
      if (!(e instanceof KeyFileError)) throw e;
      logger.error({ file: file.path, reason, error: e.message }, "API_KEYS_FILE is malformed: the last good keys stay in force");
      return;
    }
    this.set = KeySet.build(this.opts.envKeys, entries, this.opts.services, this.set);
    this.verifier.replace(this.set);
    logger.info({ file: file.path, reason, keys: this.names() }, "API keys reloaded");
  }
}
