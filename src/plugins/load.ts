/** Imports plugin modules and runs each route's `create(config)` at config load; every failure is a diagnostic with file and line. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic } from '../config/diagnostic.js';
import { formatKeyPath } from '../config/diagnostic.js';
import type { Config } from '../config/schema.js';
import type { Plugin, PluginInstance } from './types.js';

/** A plugin ready for a route: its name and what its `create` returned for the route's config. */
export interface LoadedPlugin {
  readonly name: string;
  readonly instance: PluginInstance;
}

/** The instances of one config load, per route index, in the order the route lists them. */
export type RoutePlugins = ReadonlyArray<readonly LoadedPlugin[]>;

/** The loaded plugins, or every problem found. */
export type PluginLoad =
  | { readonly ok: true; readonly plugins: RoutePlugins; readonly modules: readonly string[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

type Locate = (path: ReadonlyArray<PropertyKey>) => { file: string; line: number };

/** How long `create` may take: it runs at load, where a hang would stall every later reload. */
const CREATE_TIMEOUT_MS = 5000;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isPlugin(value: unknown): value is Plugin {
  const candidate = value as Partial<Plugin> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    typeof candidate.create === 'function'
  );
}

function isInstance(value: unknown): value is PluginInstance {
  if (typeof value !== 'object' || value === null) return false;
  const { onRequest, onResponse } = value as Record<string, unknown>;
  return (
    (onRequest === undefined || typeof onRequest === 'function') &&
    (onResponse === undefined || typeof onResponse === 'function')
  );
}

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((settle, fail) => {
    const timer = setTimeout(() => fail(new Error(`${what} did not finish within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        settle(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        fail(err);
      },
    );
  });
}

/**
 * Imports a module under a URL that carries a hash of its content: an unchanged file is the cached module,
 * an edited one is imported afresh (ESM caches by URL and has no way to evict). Modules the plugin itself
 * imports are cached as usual.
 */
async function importModule(file: string): Promise<unknown> {
  const version = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
  try {
    return ((await import(`${pathToFileURL(file).href}?v=${version}`)) as { default?: unknown })
      .default;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new Error(
        '.ts plugins load only when edgeway runs from its sources (through tsx); compile the plugin to .mjs',
        { cause: err },
      );
    }
    throw err;
  }
}

/** Imports every declared module, then creates each route's instances. */
export async function loadPlugins(config: Config, locate: Locate): Promise<PluginLoad> {
  const diagnostics: Diagnostic[] = [];
  const at = (path: ReadonlyArray<PropertyKey>, text: string): void => {
    diagnostics.push({ ...locate(path), path: formatKeyPath(path), message: text });
  };
  const modules = new Map<string, Plugin>();
  const files: string[] = [];
  for (const [i, declared] of config.plugins.entries()) {
    const file = resolve(dirname(locate(['plugins', i]).file), declared.module);
    files.push(file);
    let exported: unknown;
    try {
      exported = await importModule(file);
    } catch (err) {
      at(['plugins', i, 'module'], `cannot load plugin module ${file}: ${message(err)}`);
      continue;
    }
    if (!isPlugin(exported))
      at(['plugins', i, 'module'], `${file} must export default { name, create(config) }`);
    else if (exported.name !== declared.name)
      at(
        ['plugins', i, 'name'],
        `${file} exports the plugin "${exported.name}", not "${declared.name}"`,
      );
    else modules.set(declared.name, exported);
  }
  const plugins: LoadedPlugin[][] = [];
  for (const [i, route] of config.routes.entries()) {
    const loaded: LoadedPlugin[] = [];
    for (const [j, entry] of route.plugins.entries()) {
      const plugin = modules.get(entry.name);
      if (plugin === undefined) continue;
      try {
        const instance = await within(
          Promise.resolve().then(() => plugin.create(entry.config)),
          CREATE_TIMEOUT_MS,
          `plugin "${entry.name}": create`,
        );
        if (!isInstance(instance))
          throw new Error(
            'create must return an object with onRequest and/or onResponse functions',
          );
        loaded.push({ name: entry.name, instance });
      } catch (err) {
        at(
          ['routes', i, 'plugins', j],
          `plugin "${entry.name}" refused its config: ${message(err)}`,
        );
      }
    }
    plugins.push(loaded);
  }
  return diagnostics.length > 0
    ? { ok: false, diagnostics }
    : { ok: true, plugins, modules: files };
}
