// Finds a model's files in the repository: `<repo>/<name>/config.json` and
// `<repo>/<name>/<version>/model.onnx`, serving the highest numeric version.
import { readdir } from "node:fs/promises";
import { join } from "node:path";

export interface ModelLocation {
  configPath: string;
  versionDir: string;
  version: string;
}

export async function locateLatest(repository: string, name: string): Promise<ModelLocation> {
  const modelDir = join(repository, name);
  let entries;
  try {
    entries = await readdir(modelDir, { withFileTypes: true });
  } catch {
    throw new Error(`model directory ${modelDir} not found`);
  }
  const versions = entries
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => b - a);
  if (versions.length === 0) throw new Error(`no version directory (e.g. ${join(modelDir, "1")}) in ${modelDir}`);
  const version = String(versions[0]);
  return { configPath: join(modelDir, "config.json"), versionDir: join(modelDir, version), version };
}
