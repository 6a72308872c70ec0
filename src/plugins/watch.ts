/** Watches plugin module files, so saving a plugin reloads the config as saving a config file does. */
import { unwatchFile, watchFile, type StatsListener } from 'node:fs';

/**
 * Calls `onChange` once per burst of edits to any of `files`. Stat polling (every 500 ms) rather than
 * fs.watch: editors save by renaming a new file over the old one, which ends an inotify watch on the old
 * inode but not a poll of the path. Returns a function that stops watching.
 */
export function watchModules(
  files: readonly string[],
  onChange: () => void,
  debounceMs = 150,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  const listener: StatsListener = (current, previous) => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  for (const file of files) watchFile(file, { interval: 500, persistent: false }, listener);
  return () => {
    clearTimeout(timer);
    for (const file of files) unwatchFile(file, listener);
  };
}
