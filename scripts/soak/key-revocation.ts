// The soak's key revocation: a second key carries part of the load, is
// revoked mid-run, and must be refused (UNAUTHENTICATED) within 5 s while the
// other key keeps working. Revoking without a restart needs the named,
// hashed API_KEYS_FILE and `npm run keys` from the `keys` branch; until this
// branch has them, the step reports that it did not run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../test/support/server-process.js";

export const REVOCABLE_KEY_NAME = "soak-revocable";

export type Revocation =
  | { supported: true; revoke(): Promise<void> }
  | { supported: false; reason: string };

/** How this checkout revokes a key while the server runs, if it can. */
export function keyRevocation(): Revocation {
  const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts ?? {};
  if (!("keys" in scripts)) {
    return { supported: false, reason: "this checkout has no `npm run keys` and reads API_KEYS_FILE only at start: wire scripts/soak/key-revocation.ts once `keys` is merged" };
  }
  // `keys` is merged but this step is not wired to it yet: say so rather than pretend.
  return { supported: false, reason: "`npm run keys` exists but scripts/soak/key-revocation.ts is not wired to it yet (add the key to API_KEYS_FILE at start, run `npm run keys -- revoke soak-revocable` here)" };
}
