/** The folder graph of src/ stays acyclic, in one direction a newcomer can draw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The folders of src/ from top to bottom: a folder may import only from folders below it. `request` holds
 * the shapes every stage shares (RequestContext, Stage, Principal, the SERVER span, the observer hooks);
 * files at the root of src/ (errors.ts) are the bottom.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['cli'],
  ['server'],
  ['admin'],
  ['pipeline'],
  ['security', 'traffic', 'telemetry', 'proxy', 'plugins'],
  ['request'],
  ['discovery', 'balancing'],
  ['config'],
  ['store'],
  ['.'],
];
/** Folders on one line may import each other only in these directions. */
const SIBLING_EDGES = new Set([
  'proxy>traffic',
  'telemetry>traffic',
  'discovery>balancing',
  'plugins>telemetry',
]);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? files(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

function folderOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '.';
}

/** Every folder-to-folder import in src/, type-only imports included, as "from>to" with one example file. */
function folderEdges(): Map<string, string> {
  const edges = new Map<string, string>();
  const importFrom = /(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g;
  for (const file of files(SRC)) {
    for (const match of readFileSync(file, 'utf8').matchAll(importFrom)) {
      const from = folderOf(file);
      const to = folderOf(resolve(dirname(file), match[1]!));
      if (from !== to && !edges.has(`${from}>${to}`))
        edges.set(`${from}>${to}`, relative(SRC, file));
    }
  }
  return edges;
}

const rank = new Map(
  LAYERS.flatMap((layer, index) => layer.map((folder) => [folder, index] as const)),
);

test('every folder of src/ has a place in the layering', () => {
  const folders = new Set(files(SRC).map(folderOf));
  assert.deepEqual(
    [...folders].filter((folder) => !rank.has(folder)),
    [],
  );
});

test('folders import only downwards (no folder cycle, type imports included)', () => {
  const wrong = [...folderEdges()]
    .filter(([edge]) => {
      const [from, to] = edge.split('>') as [string, string];
      const a = rank.get(from)!;
      const b = rank.get(to)!;
      return a > b || (a === b && !SIBLING_EDGES.has(edge));
    })
    .map(([edge, file]) => `${edge} (${file})`);
  assert.deepEqual(wrong, []);
});
