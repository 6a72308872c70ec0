/** Loads, validates and cross-checks config: the one path shared by `edgeway check`, start-up and reload. */
import { configSchema, type Config } from './schema.js';
import { crossCheck, referenceIssues } from './cross-checks.js';
import { formatKeyPath, type Diagnostic } from './diagnostic.js';
import { loadSources } from './sources.js';

/** A valid config (deep-frozen) with the files it came from, or every problem found. */
export type LoadedConfig =
  | { readonly ok: true; readonly config: Config; readonly files: readonly string[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Reads config from a YAML file or folder and validates it in two layers: schema, then cross-field.
 * Never throws: whatever goes wrong (even a parser's stack overflow on absurd nesting) is a diagnostic.
 */
export function loadConfig(path: string): LoadedConfig {
  try {
    return validate(path);
  } catch (err) {
    return { ok: false, diagnostics: [{ file: path, line: 0, path: '', message: `cannot load config: ${(err as Error).message}` }] };
  }
}

function validate(path: string): LoadedConfig {
  const loaded = loadSources(path);
  if (!loaded.ok) return loaded;
  const { sources } = loaded;

  const parsed = configSchema.safeParse(sources.raw);
  if (!parsed.success) {
    const diagnostics = parsed.error.issues.flatMap((issue) => {
      // One diagnostic per unknown key, pointing at the key itself (typos are the common case).
      const located = issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }))
        : [{ path: issue.path, message: issue.message }];
      return located.map(({ path, message }) => ({ ...sources.locate(path), path: formatKeyPath(path), message }));
    });
    // Broken references are reported in the same pass, so one `edgeway check` lists every error it can.
    for (const issue of referenceIssues(sources.raw)) {
      diagnostics.push({ ...sources.locate(issue.path), path: formatKeyPath(issue.path), message: issue.message });
    }
    return { ok: false, diagnostics };
  }
  const issues = crossCheck(parsed.data);
  if (issues.length > 0) {
    const diagnostics = issues.map((issue) => {
      const { file, line } = sources.locate(issue.path);
      return { file, line, path: formatKeyPath(issue.path), message: issue.message };
    });
    return { ok: false, diagnostics };
  }
  return { ok: true, config: deepFreeze(parsed.data), files: sources.files };
}
