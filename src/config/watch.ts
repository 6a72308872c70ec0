/** Watches a config file or folder and calls back once per burst of edits. */
import { watch, type FSWatcher } from 'node:fs';

/** Starts watching; returns a function that stops it. Editors write in bursts, so changes are debounced. */
export function watchConfig(path: string, onChange: () => void, debounceMs = 150): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher;
  try {
    watcher = watch(path, { persistent: false }, () => {
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
  } catch {
    return () => undefined;
  }
  watcher.on('error', () => undefined);
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
