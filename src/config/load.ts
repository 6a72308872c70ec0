/** Loads, validates and cross-checks config: the one path shared by `edgeway check`, start-up and reload. */
import { configSchema, type Config } from './schema.js';
import { crossCheck, referenceIssues, type CrossIssue } from './cross-checks.js';
import { formatKeyPath, type Diagnostic } from './diagnostic.js';
import { loadSources, type ConfigSources } from './sources.js';

/** A valid config (deep-frozen) with the files it came from, or every problem found. */
export type LoadedConfig =
  | {
      readonly ok: true;
      readonly config: Config;
      readonly files: readonly string[];
      readonly locate: ConfigSources['locate'];
    }
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
  | {
      readonly ok: true;
      readonly config: Config;
      readonly files: readonly string[];
      readonly locate: ConfigSources['locate'];
      readonly output: T;
    }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

/** How a caller turns a valid config into runtime objects (the compilers live above config/). */
export interface ConfigCompiler<T> {
  /** Problems found by the runtime's own compilers, reported in one pass with the cross-field checks. */
  readonly check: (config: Config) => readonly CrossIssue[];
  /** Builds the runtime objects from a config that passed every check. */
  readonly build: (config: Config, files: readonly string[]) => T;
}

/**
 * The one path of `edgeway check`, start-up and reload: reads, validates (schema, cross-field checks and
 * the compilers' checks) and builds, so a reload reports exactly what `check` prints. Never throws:
 * whatever goes wrong (even a parser's stack overflow on absurd nesting, or a compiler's bug) is a diagnostic.
 */
export function loadAndCompile<T>(path: string, compiler: ConfigCompiler<T>): Compiled<T> {
  let validated: LoadedConfig;
  try {
    validated = validate(path, compiler.check);
  } catch (err) {
    return {
      ok: false,
      diagnostics: [
        { file: path, line: 0, path: '', message: `cannot load config: ${(err as Error).message}` },
      ],
    };
  }
  if (!validated.ok) return validated;
  const { config, files, locate } = validated;
  try {
    return { ok: true, config, files, locate, output: compiler.build(config, files) };
  } catch (err) {
    return {
      ok: false,
      diagnostics: [
        {
          file: path,
          line: 0,
          path: '',
          message: `cannot compile config: ${(err as Error).message}`,
        },
      ],
    };
  }
}

/** Reads and validates config without the compilers' checks (for commands that only read a section). */
export function loadConfig(path: string): LoadedConfig {
  const loaded = loadAndCompile(path, { check: () => [], build: () => undefined });
  return loaded.ok
    ? { ok: true, config: loaded.config, files: loaded.files, locate: loaded.locate }
    : loaded;
}

function validate(path: string, compilerCheck: ConfigCompiler<unknown>['check']): LoadedConfig {
  const loaded = loadSources(path);
  if (!loaded.ok) return loaded;
  const { sources } = loaded;

  const parsed = configSchema.safeParse(sources.raw);
  if (!parsed.success) {
    const diagnostics = parsed.error.issues.flatMap((issue) => {
      // One diagnostic per unknown key, pointing at the key itself (typos are the common case).
      const located =
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ path: [...issue.path, key], message: 'unknown key' }))
          : [{ path: issue.path, message: issue.message }];
      return located.map(({ path, message }) => ({
        ...sources.locate(path),
        path: formatKeyPath(path),
        message,
      }));
    });
    // Broken references are reported in the same pass, so one `edgeway check` lists every error it can.
    for (const issue of referenceIssues(sources.raw)) {
      diagnostics.push({
        ...sources.locate(issue.path),
        path: formatKeyPath(issue.path),
        message: issue.message,
      });
    }
    return { ok: false, diagnostics };
  }
  const config = deepFreeze(parsed.data);
  const issues = [...crossCheck(config), ...compilerCheck(config)];
  if (issues.length > 0) {
    const diagnostics = issues.map((issue) => {
      const { file, line } = sources.locate(issue.path);
      return { file, line, path: formatKeyPath(issue.path), message: issue.message };
    });
    // Document order, whichever layer found the problem.
    const fileOrder = new Map(sources.files.map((file, i) => [file, i]));
    diagnostics.sort(
      (a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || a.line - b.line,
    );
    return { ok: false, diagnostics };
  }
  return { ok: true, config, files: sources.files, locate: sources.locate };
}
