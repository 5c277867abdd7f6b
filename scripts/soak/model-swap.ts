// The soak's model repository: a copy of models/ in a temp directory, where
// a new version of a model can be put in place while the server polls it.
import { cpSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../test/support/server-process.js";

export interface SoakRepository {
  dir: string;
  /** Copies `<model>/<from>` to `<model>/<to>`, appearing at once (a rename), as an operator should deploy one. */
  addVersion(model: string, from: string, to: string): void;
  remove(): void;
}

export function soakRepository(): SoakRepository {
  const dir = mkdtempSync(join(tmpdir(), "soak-models-"));
  cpSync(join(REPO_ROOT, "models"), dir, { recursive: true });
  return {
    dir,
    addVersion(model, from, to) {
      // Staged beside the repository, on the same filesystem, so the rename is atomic.
      const staged = mkdtempSync(join(tmpdir(), "soak-version-"));
      cpSync(join(dir, model, from), staged, { recursive: true });
      renameSync(staged, join(dir, model, to));
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
