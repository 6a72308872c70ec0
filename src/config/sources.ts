/** Reads one YAML file or a folder of them, merges them, and remembers where every key came from. */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  LineCounter,
  parseDocument,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Document,
  type Node,
} from 'yaml';
import type { Diagnostic } from './diagnostic.js';
import { readConfigFile } from './read-file.js';

/**
 * Alias expansions per file, weighted by the aliases inside each anchor (the `yaml` package's
 * `maxAliasCount`): stops "billion laughs" documents while an anchor reused on hundreds of routes passes.
 */
export const MAX_ALIAS_COUNT = 1000;
/**
 * Values per file once aliases are expanded: the schema walks every alias as a copy, so one large anchor
 * reused many times costs as much as the copies would.
 */
export const MAX_EXPANDED_VALUES = 1_000_000;

interface ParsedFile {
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
}

/** The merged raw config and a way back from a key path to the file and line that set it. */
export interface ConfigSources {
  readonly files: readonly string[];
  readonly raw: Record<string, unknown>;
  locate(path: ReadonlyArray<PropertyKey>): { file: string; line: number };
}

type LoadResult = { ok: true; sources: ConfigSources } | { ok: false; diagnostics: Diagnostic[] };

const SINGLE_OWNER_SECTIONS = new Set(['gateway', 'auth', 'alerts', 'plugins']);

function listYamlFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
    .sort()
    .map((name) => join(path, name));
}

/** True when `value`, walked as a tree (every shared alias counted again), has more than `limit` values. */
function expandsBeyond(value: unknown, limit: number): boolean {
  const stack: unknown[] = [value];
  let count = 0;
  while (stack.length > 0) {
    const next = stack.pop();
    if (++count > limit) return true;
    if (next === null || typeof next !== 'object') continue;
    for (const child of Array.isArray(next) ? next : Object.values(next)) stack.push(child);
  }
  return false;
}

/**
 * Offsets of keys repeated within one mapping. The `yaml` package's own `uniqueKeys` compares every key
 * with every other (seconds for a mapping of 20,000 keys); a set per mapping is linear.
 */
function duplicateKeyOffsets(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) offsets.push(key.range?.[0] ?? 0);
        seen.add(key.value);
      }
    },
  });
  return offsets;
}

/** The file's plain data, or why it cannot be used (alias limits, unresolved aliases). */
function toData(parsed: ParsedFile): { ok: true; data: unknown } | { ok: false; message: string } {
  let data: unknown;
  try {
    data = parsed.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    return {
      ok: false,
      message: `${(err as Error).message} (at most ${MAX_ALIAS_COUNT} alias expansions per file)`,
    };
  }
  if (expandsBeyond(data, MAX_EXPANDED_VALUES))
    return { ok: false, message: `aliases expand to more than ${MAX_EXPANDED_VALUES} values` };
  return { ok: true, data };
}

function keyLine(parsed: ParsedFile, path: ReadonlyArray<PropertyKey>): number | undefined {
  const parent =
    path.length === 0 ? parsed.doc.contents : parsed.doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find(
      (item) => isScalar(item.key) && String(item.key.value) === String(last),
    );
    const range = (pair?.key as Node | undefined)?.range;
    if (range) return parsed.lines.linePos(range[0]).line;
  }
  if (isSeq(parent) && typeof last === 'number') {
    const range = (parent.items[last] as Node | undefined)?.range;
    if (range) return parsed.lines.linePos(range[0]).line;
  }
  return undefined;
}

function lineOf(parsed: ParsedFile, path: ReadonlyArray<PropertyKey>): number {
  // Point at the key itself; for a missing key, walk up to the deepest one that exists.
  for (let depth = path.length; depth > 0; depth--) {
    const line = keyLine(parsed, path.slice(0, depth));
    if (line !== undefined) return line;
  }
  return 1;
}

/** Loads and merges config files; YAML syntax errors and merge conflicts come back as diagnostics. */
export function loadSources(path: string, cwd = process.cwd()): LoadResult {
  const diagnostics: Diagnostic[] = [];
  let paths: string[];
  try {
    paths = listYamlFiles(path);
  } catch (err) {
    return {
      ok: false,
      diagnostics: [
        { file: path, line: 0, path: '', message: `cannot read config: ${(err as Error).message}` },
      ],
    };
  }
  if (paths.length === 0)
    return {
      ok: false,
      diagnostics: [
        { file: path, line: 0, path: '', message: 'no .yaml or .yml files in this folder' },
      ],
    };

  const parsed: ParsedFile[] = [];
  for (const full of paths) {
    const file = relative(cwd, full) || full;
    const read = readConfigFile(full);
    if (!read.ok) {
      diagnostics.push({ file, line: 0, path: '', message: read.message });
      continue;
    }
    const lines = new LineCounter();
    const doc = parseDocument(read.text, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: false,
    });
    for (const error of doc.errors) {
      const line = lines.linePos(error.pos[0]).line;
      diagnostics.push({
        file,
        line,
        path: '',
        message: error.message.split('\n')[0] ?? error.message,
      });
    }
    for (const offset of duplicateKeyOffsets(doc))
      diagnostics.push({
        file,
        line: lines.linePos(offset).line,
        path: '',
        message: 'Map keys must be unique',
      });
    if (doc.contents !== null && !isMap(doc.contents))
      diagnostics.push({
        file,
        line: 1,
        path: '',
        message: 'a config file must be a mapping of sections',
      });
    parsed.push({ file, doc, lines });
  }
  if (diagnostics.length > 0) return { ok: false, diagnostics };

  const raw: Record<string, unknown> = {};
  const sectionOwner = new Map<string, ParsedFile>();
  const serviceOwner = new Map<string, ParsedFile>();
  const routeOwner: Array<{ parsed: ParsedFile; index: number }> = [];
  const routes: unknown[] = [];

  const contents = new Map<ParsedFile, Record<string, unknown>>();
  for (const p of parsed) {
    const data = toData(p);
    if (data.ok) contents.set(p, (data.data ?? {}) as Record<string, unknown>);
    else diagnostics.push({ file: p.file, line: 0, path: '', message: data.message });
  }
  if (diagnostics.length > 0) return { ok: false, diagnostics };

  for (const [p, content] of contents) {
    for (const [section, value] of Object.entries(content)) {
      if (section === 'routes' && isSeq(p.doc.get('routes'))) {
        (value as unknown[]).forEach((route, index) => {
          routes.push(route);
          routeOwner.push({ parsed: p, index });
        });
      } else if (
        section === 'services' &&
        value !== null &&
        typeof value === 'object' &&
        !Array.isArray(value)
      ) {
        const services = (raw.services ??= {}) as Record<string, unknown>;
        for (const [name, service] of Object.entries(value)) {
          const first = serviceOwner.get(name);
          if (first) {
            diagnostics.push({
              file: p.file,
              line: lineOf(p, ['services', name]),
              path: `services.${name}`,
              message: `service "${name}" is also defined in ${first.file}`,
            });
            continue;
          }
          serviceOwner.set(name, p);
          services[name] = service;
        }
      } else {
        const first = sectionOwner.get(section);
        if (first && SINGLE_OWNER_SECTIONS.has(section)) {
          diagnostics.push({
            file: p.file,
            line: lineOf(p, [section]),
            path: section,
            message: `section "${section}" is also defined in ${first.file}; keep it in one file`,
          });
          continue;
        }
        sectionOwner.set(section, p);
        raw[section] = value;
      }
    }
  }
  if (routeOwner.length > 0) raw.routes = routes;
  if (diagnostics.length > 0) return { ok: false, diagnostics };

  const fallback = parsed[0] as ParsedFile;
  const locate = (keyPath: ReadonlyArray<PropertyKey>): { file: string; line: number } => {
    const [section, second] = keyPath;
    let owner: ParsedFile | undefined;
    let local: PropertyKey[] = [...keyPath];
    if (section === 'routes' && typeof second === 'number' && routeOwner[second]) {
      const entry = routeOwner[second];
      owner = entry.parsed;
      local = ['routes', entry.index, ...keyPath.slice(2)];
    } else if (section === 'services' && typeof second === 'string') {
      owner = serviceOwner.get(second);
    } else if (typeof section === 'string') {
      owner = sectionOwner.get(section);
    }
    owner ??= fallback;
    return { file: owner.file, line: lineOf(owner, local) };
  };

  return { ok: true, sources: { files: parsed.map((p) => p.file), raw, locate } };
}
