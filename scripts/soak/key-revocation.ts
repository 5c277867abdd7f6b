// The soak's keys: a main key, and a second one that carries part of the
// load and is revoked mid-run. Revoking with no restart needs `npm run keys`
// (a hashed API_KEYS_FILE the server watches); a checkout without it gets two
// plain keys in API_KEYS and no revocation, and the soak says so.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../../test/support/server-process.js";

export const REVOCABLE_KEY_NAME = "soak-revocable";

export interface SoakKeys {
  /** The server's key settings. */
  env: Record<string, string>;
  main: string;
  revocable: string;
  /** Revokes the revocable key while the server runs; undefined where this checkout cannot. */
  revoke?: () => Promise<void>;
  /** Why there is no revoke(). */
  notRunReason?: string;
  remove(): void;
}

/** `npm run keys -- ARGS`; its stdout (a new key is alone on the last line). */
async function keysCommand(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "keys", "--", ...args], { cwd: REPO_ROOT });
  return stdout;
}

/** The soak's two keys, and how to revoke one where this checkout can. */
export async function soakKeys(): Promise<SoakKeys> {
  const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts ?? {};
  if (!("keys" in scripts)) {
    const main = "soak-main-key";
    const revocable = "soak-revocable-key";
    return {
      env: { API_KEYS: `${main},${revocable}` },
      main,
      revocable,
      notRunReason: "this checkout has no `npm run keys` (API_KEYS_FILE is read only at start)",
      remove() {},
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "soak-keys-"));
  const file = join(dir, "api-keys.json");
  const add = async (name: string) => (await keysCommand(["add", name, "--file", file])).trim().split("\n").at(-1)!.trim();
  const main = await add("soak-main");
  const revocable = await add(REVOCABLE_KEY_NAME);
  return {
    env: { API_KEYS_FILE: file },
    main,
    revocable,
    revoke: async () => void (await keysCommand(["revoke", REVOCABLE_KEY_NAME, "--file", file])),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
