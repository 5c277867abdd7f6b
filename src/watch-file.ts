// Tells when a file may have changed: fs.watch on its directory for a quick
// answer (editors and `mv` replace the file, Kubernetes swaps a symlink
// beside it), and a stat poll for filesystems where fs.watch says nothing.
import { watch, watchFile, unwatchFile, type FSWatcher } from "node:fs";
import { dirname } from "node:path";

// Events come in bursts while a file is written: act once they settle.
const SETTLE_MS = 50;

/** Calls `onChange` (at most once per burst) when `path` may have changed; returns a function that stops watching. */
export function watchForChanges(path: string, onChange: () => void, pollMs: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      onChange();
    }, SETTLE_MS);
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), { persistent: false }, changed);
    // The directory went away or cannot be watched: the poll still runs.
    watcher.on("error", () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  watchFile(path, { interval: pollMs, persistent: false }, changed);
  return () => {
    watcher?.close();
    unwatchFile(path, changed);
    clearTimeout(timer);
  };
}
