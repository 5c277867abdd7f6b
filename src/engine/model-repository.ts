// The model repository: `<root>/<model>/config.json` and
// `<root>/<model>/<version>/model.onnx`. It loads every version it finds,
// serves the highest READY one by default, and keeps watching the directory:
// new versions are loaded and warmed up before they take traffic, removed
// ones are unloaded once their calls have finished, and a broken one is
// marked FAILED while the version before it keeps serving.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { EngineObserver, VersionState } from "./engine-observer.js";
import type { InferencePool } from "./inference-pool.js";
import { withoutPaths } from "./load-reason.js";
import { readModelConfig, type ModelConfig } from "./model-config.js";
import { ServedVersion } from "./served-version.js";

export interface VersionRecord {
  version: string;
  state: VersionState;
  /** Why the last load failed, for clients: no stack, no file paths (the log has the whole error). */
  error?: string;
  updatedAt: Date;
  /** What the files looked like when loaded; a change triggers a reload. */
  fingerprint: string;
  served?: ServedVersion;
  /** Numbers from `<version>/metrics.json` (the model card's evaluation). */
  metrics: Record<string, number>;
}

export interface ModelEntry {
  name: string;
  config?: ModelConfig;
  configFingerprint: string;
  versions: Map<string, VersionRecord>;
}

export interface Lease {
  served: ServedVersion;
  /** Ends the call's use of the version (idempotent). */
  release(): void;
}

export interface RepositoryOptions {
  root: string;
  pool: InferencePool;
  /** Inference workers, i.e. batches a version may run at once. */
  workers: number;
  logger: Logger;
  observer?: EngineObserver;
  /** How often to look for changes; 0 disables polling. */
  pollIntervalMs: number;
  clock?: Clock;
}

export class ModelRepository {
  private readonly models = new Map<string, ModelEntry>();
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: RepositoryOptions) {}

  /** Loads what is there now, then keeps polling. */
  async start(): Promise<void> {
    await this.scan();
    if (this.opts.pollIntervalMs > 0) {
      this.timer = setInterval(() => void this.scan(), this.opts.pollIntervalMs);
      this.timer.unref();
    }
  }

  /** Stops polling and unloads every version (waiting for their calls). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.scanning;
    const all = [...this.models.values()].flatMap((m) => [...m.versions.values()]);
    await Promise.all(all.map((r) => r.served?.unload()));
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): ModelEntry[] {
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ModelEntry | undefined {
    return this.models.get(name);
  }

  /** The highest READY version of a model. */
  defaultVersion(name: string): VersionRecord | undefined {
    const entry = this.models.get(name);
    if (!entry) return undefined;
    return [...entry.versions.values()].filter((r) => r.state === "ready" && r.served).sort((a, b) => Number(b.version) - Number(a.version))[0];
  }

  /**
   * A version to run a call on, marked in use until release(). NOT_FOUND for
   * a model or pinned version the repository does not have; UNAVAILABLE while
   * it is not ready.
   */
  acquire(name: string, version = ""): Lease {
    const entry = this.models.get(name);
    if (!entry) throw new ConnectError(`model ${name} is not in the repository`, Code.NotFound);
    const record = version === "" ? this.defaultVersion(name) : entry.versions.get(version);
    if (!record) {
      if (version !== "") throw new ConnectError(`model ${name} has no version ${version}`, Code.NotFound);
      throw new ConnectError(`model ${name} has no ready version - retry later`, Code.Unavailable);
    }
    if (record.state !== "ready" || !record.served) {
      throw new ConnectError(`model ${name} version ${record.version} is ${record.state}`, Code.Unavailable);
    }
    const served = record.served;
    return { served, release: served.enter() };
  }

  /** One pass over the directory; passes never overlap. */
  scan(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.scanning ??= this.scanOnce().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const onDisk = await modelDirs(this.opts.root);
    for (const name of [...this.models.keys()]) {
      if (!onDisk.includes(name)) this.removeModel(name);
    }
    for (const name of onDisk) await this.syncModel(name);
    this.changed();
  }

  private async syncModel(name: string): Promise<void> {
    const dir = join(this.opts.root, name);
    let entry = this.models.get(name);
    if (!entry) {
      entry = { name, configFingerprint: "", versions: new Map() };
      this.models.set(name, entry);
    }
    const configFingerprint = await fingerprint(join(dir, "config.json"));
    let configError: string | undefined;
    if (configFingerprint !== entry.configFingerprint) {
      try {
        entry.config = await readModelConfig(dir);
      } catch (e) {
        configError = (e as Error).message;
        entry.config = undefined;
      }
      entry.configFingerprint = configFingerprint;
    }
    const versions = await versionDirs(dir);
    for (const [version, record] of entry.versions) {
      if (!versions.includes(version) && record.state !== "unloading") this.removeVersion(entry, record);
    }
    for (const version of versions) {
      const modelPath = join(dir, version, "model.onnx");
      const fp = `${configFingerprint}|${await fingerprint(modelPath)}`;
      const record = entry.versions.get(version);
      if (record && record.fingerprint === fp) continue;
      if (!entry.config) {
        this.fail(entry, version, fp, modelPath, configError ?? `config of ${name} could not be read`);
        continue;
      }
      await this.loadVersion(entry, entry.config, version, fp, modelPath);
    }
  }

  private async loadVersion(entry: ModelEntry, config: ModelConfig, version: string, fp: string, modelPath: string): Promise<void> {
    const previous = entry.versions.get(version);
    // A version changed in place keeps serving from its old session until the new one is warm.
    if (!previous) entry.versions.set(version, { version, state: "loading", updatedAt: new Date(), fingerprint: fp, metrics: {} });
    this.changed();
    const started = performance.now();
    try {
      const served = await ServedVersion.load({
        pool: this.opts.pool,
        config,
        modelPath,
        version,
        workers: this.opts.workers,
        clock: this.opts.clock,
        observer: this.opts.observer,
      });
      const metrics = await readMetrics(join(this.opts.root, entry.name, version, "metrics.json"));
      entry.versions.set(version, { version, state: "ready", updatedAt: new Date(), fingerprint: fp, served, metrics });
      if (previous?.served) void previous.served.unload();
      this.opts.logger.info(
        {
          model: entry.name,
          version,
          path: modelPath,
          execution: served.execution,
          batchesPerDispatch: served.batchesPerDispatch,
          ms: Math.round(performance.now() - started),
        },
        "model version ready",
      );
      if (served.executionNote) this.opts.logger.warn({ model: entry.name, version, path: modelPath }, served.executionNote);
    } catch (e) {
      this.fail(entry, version, fp, modelPath, (e as Error).message, previous);
    }
  }

  private fail(entry: ModelEntry, version: string, fp: string, modelPath: string, error: string, previous = entry.versions.get(version)): void {
    this.opts.observer?.countLoadFailure(entry.name, version);
    this.opts.logger.error({ model: entry.name, version, path: modelPath, error }, "model version failed to load");
    const reason = withoutPaths(error);
    if (previous?.served && previous.state === "ready") {
      // The old session of a version changed in place keeps serving; record the failure.
      entry.versions.set(version, { ...previous, fingerprint: fp, error: reason });
      return;
    }
    entry.versions.set(version, { version, state: "failed", error: reason, updatedAt: new Date(), fingerprint: fp, metrics: {} });
  }

  private removeVersion(entry: ModelEntry, record: VersionRecord): void {
    record.state = "unloading";
    record.updatedAt = new Date();
    this.opts.logger.info(
      { model: entry.name, version: record.version, inFlight: record.served?.callsInFlight ?? 0 },
      "model version removed; unloading after its calls finish",
    );
    void (record.served?.unload() ?? Promise.resolve()).finally(() => {
      if (entry.versions.get(record.version) === record) entry.versions.delete(record.version);
      this.changed();
    });
  }

  private removeModel(name: string): void {
    const entry = this.models.get(name)!;
    for (const record of entry.versions.values()) if (record.state !== "unloading") this.removeVersion(entry, record);
    this.models.delete(name);
  }

  private changed(): void {
    this.opts.observer?.setModelStates(
      [...this.models.values()].flatMap((m) => [...m.versions.values()].map((r) => ({ model: m.name, version: r.version, state: r.state }))),
    );
    for (const l of this.listeners) l();
  }
}

async function modelDirs(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && (await exists(join(root, e.name, "config.json")))) names.push(e.name);
  }
  return names.sort();
}

async function versionDirs(modelDir: string): Promise<string[]> {
  const entries = await readdir(modelDir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && /^[0-9]{1,9}$/.test(e.name)).map((e) => e.name);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Size and mtime: enough to notice a replaced file without reading it. */
async function fingerprint(path: string): Promise<string> {
  return stat(path).then(
    (s) => `${s.size}:${s.mtimeMs}`,
    () => "missing",
  );
}

async function readMetrics(path: string): Promise<Record<string, number>> {
  try {
    const raw = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(raw).filter((kv): kv is [string, number] => typeof kv[1] === "number"));
  } catch {
    return {};
  }
}
