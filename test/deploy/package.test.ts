/** package.json against the code: what production installs is what src/ imports, exports point at real modules, and bin runs without tsx. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { builtinModules } from 'node:module';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const run = promisify(execFile);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** The package names src/ imports at run time (type-only imports are erased by the compiler). */
function runtimeImports(): Set<string> {
  const names = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    for (const [, typeOnly, spec] of readFileSync(file, 'utf8').matchAll(
      /^(?:import|export)\s+(type\s+)?[^'";]*?from\s+'([^'.][^']*)'/gm,
    )) {
      if (
        typeOnly !== undefined ||
        spec === undefined ||
        spec.startsWith('node:') ||
        builtinModules.includes(spec)
      )
        continue;
      names.add(
        spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] as string),
      );
    }
  }
  return names;
}

describe('package.json', () => {
  test('every package src/ imports is a production dependency; tsx (and its esbuild) is a dev dependency only', () => {
    const imported = runtimeImports();
    assert.ok(imported.has('hono') && imported.has('ioredis'), [...imported].join(' '));
    for (const name of imported)
      assert.ok(name in pkg.dependencies, `${name} is imported by src/ but not a dependency`);
    assert.ok(
      !('tsx' in pkg.dependencies),
      'tsx in dependencies ships it (and esbuild) in the production image',
    );
    assert.ok('tsx' in pkg.devDependencies);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    for (const name of ['tsx', 'esbuild'])
      assert.equal(
        lock.packages[`node_modules/${name}`]?.dev,
        true,
        `${name} is dev-only in the lock file (npm ci --omit=dev skips it)`,
      );
  });

  test('every export points at the compiled form of a module that exists in src/', () => {
    assert.ok(Object.keys(pkg.exports).length > 0);
    for (const [name, target] of Object.entries(pkg.exports)) {
      const source = /^\.\/dist\/(.+)\.js$/.exec(target)?.[1];
      assert.ok(source !== undefined, `${name}: ${target} is not under dist/`);
      assert.ok(
        existsSync(join(ROOT, `${source}.ts`)),
        `${name}: ${target} has no source ${source}.ts`,
      );
    }
  });
});

describe('bin/edgeway.js', () => {
  /** A package root with the real bin, a source tree and, optionally, a compiled entry; no node_modules, so no tsx. */
  function packageRoot(withDist: boolean): string {
    const root = mkdtempSync(join(tmpdir(), 'edgeway-bin-'));
    mkdirSync(join(root, 'bin'));
    copyFileSync(join(ROOT, 'bin', 'edgeway.js'), join(root, 'bin', 'edgeway.js'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'edgeway', type: 'module' }));
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    writeFileSync(join(root, 'src', 'cli', 'main.ts'), "process.stdout.write('sources\\n');\n");
    if (withDist) {
      const compiled = join(root, 'dist', 'src', 'cli', 'main.js');
      mkdirSync(dirname(compiled), { recursive: true });
      writeFileSync(compiled, "process.stdout.write('dist\\n');\n");
    }
    return root;
  }

  test('without tsx (npm ci --omit=dev) it runs dist/ even where src/ exists', async () => {
    const root = packageRoot(true);
    try {
      const { stdout } = await run(process.execPath, [join(root, 'bin', 'edgeway.js')]);
      assert.equal(stdout, 'dist\n');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('with neither tsx nor dist/ it exits 1 saying what to install or build', async () => {
    const root = packageRoot(false);
    try {
      await assert.rejects(
        run(process.execPath, [join(root, 'bin', 'edgeway.js')]),
        (err: { code: number; stderr: string }) => {
          assert.equal(err.code, 1);
          assert.match(err.stderr, /^edgeway: .*npm run build.*--omit=dev/);
          return true;
        },
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
