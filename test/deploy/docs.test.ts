/** README.md, docs/ and deploy/ stand on their own: every link resolves to a file or folder inside the repository. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

function markdownFiles(): string[] {
  const inFolder = (dir: string): string[] =>
    readdirSync(join(ROOT, dir))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join(ROOT, dir, f));
  return [join(ROOT, 'README.md'), ...inFolder('docs'), ...inFolder('deploy')];
}

test('every markdown link points at an existing path inside the repository', () => {
  let links = 0;
  for (const file of markdownFiles()) {
    for (const [, target] of readFileSync(file, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
      links++;
      const where = `${relative(ROOT, file)} -> ${target}`;
      assert.doesNotMatch(
        target as string,
        /^[a-z][a-z0-9+.-]*:/i,
        `${where}: links outside the repository`,
      );
      const path = resolve(dirname(file), (target as string).split('#')[0] as string);
      assert.ok(!relative(ROOT, path).startsWith('..'), `${where}: leaves the repository`);
      assert.ok(existsSync(path), `${where}: no such file`);
    }
  }
  assert.ok(links > 0);
});
