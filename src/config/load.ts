/** Loads, validates and cross-checks config: the one path shared by `edgeway check`, start-up and reload. */
import { configSchema, type Config } from './schema.js';
import { crossCheck, referenceIssues } from './cross-checks.js';
import { formatKeyPath, type Diagnostic } from './diagnostic.js';
import { loadSources, type ConfigSources } from './sources.js';

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

/** A config compiled into runtime objects, with the config and files it came from, or every problem found. */
export type Compiled<T> =
  | { readonly ok: true; readonly config: Config; readonly files: readonly string[]; readonly output: T }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** Thrown by a compiler for a config value it cannot use; `loadAndCompile` reports it at its key path. */
export class CompileIssue extends Error {
  constructor(readonly path: ReadonlyArray<PropertyKey>, message: string) {
    super(message);
    this.name = 'CompileIssue';
  }
}

/**
 * The one path of `edgeway check`, start-up and reload: reads, validates (schema, then cross-field) and
 * compiles, so a reload reports exactly what `check` prints. Never throws: whatever goes wrong (even a
 * parser's stack overflow on absurd nesting, or a compiler's bug) is a diagnostic.
 */
export function loadAndCompile<T>(path: string, compile: (config: Config, files: readonly string[]) => T): Compiled<T> {
  let validated: Validated;
  try {
    validated = validate(path);
  } catch (err) {
    return { ok: false, diagnostics: [{ file: path, line: 0, path: '', message: `cannot load config: ${(err as Error).message}` }] };
  }
  if (!validated.ok) return validated;
  const { config, files, locate } = validated;
  try {
    return { ok: true, config, files, output: compile(config, files) };
  } catch (err) {
    if (err instanceof CompileIssue) return { ok: false, diagnostics: [{ ...locate(err.path), path: formatKeyPath(err.path), message: err.message }] };
    return { ok: false, diagnostics: [{ file: path, line: 0, path: '', message: `cannot compile config: ${(err as Error).message}` }] };
  }
}

/** Reads and validates config without compiling it (start-up compiles once its long-lived parts exist). */
export function loadConfig(path: string): LoadedConfig {
  const loaded = loadAndCompile(path, () => undefined);
  return loaded.ok ? { ok: true, config: loaded.config, files: loaded.files } : loaded;
}

type Validated =
  | { readonly ok: true; readonly config: Config; readonly files: readonly string[]; readonly locate: ConfigSources['locate'] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

function validate(path: string): Validated {
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
  return { ok: true, config: deepFreeze(parsed.data), files: sources.files, locate: sources.locate };
}
