/** The README quickstart, run as written in one bash (ports moved to free ones, `npm ci` skipped): every line must work in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/redis-server.js';
import { ROOT } from './cli-process.js';

/** The first sh block under "## Quickstart". */
function quickstart(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Quickstart\n'));
  const start = section.indexOf('```sh\n') + 6;
  return section.slice(start, section.indexOf('```', start));
}

test(
  'the README quickstart runs top to bottom in one shell: the echo route and the token route answer',
  { timeout: 300_000 },
  async () => {
    const [lines, ports] = [
      quickstart().split('\n'),
      { '8080': await freePort(), '9901': await freePort(), '9001': await freePort() },
    ];
    assert.equal(
      lines[0],
      'npm ci',
      'the block starts with the install (skipped here: node_modules is in place)',
    );
    const moved = (text: string): string =>
      text.replace(/\b(8080|9901|9001)\b/g, (port) => String(ports[port as keyof typeof ports]));

    // The bundled routes/ with the same ports moved, so gateway, register and curl agree as they do in the README.
    const dir = mkdtempSync(join(tmpdir(), 'edgeway-quickstart-'));
    const config = join(dir, 'routes');
    mkdirSync(config);
    for (const file of readdirSync(join(ROOT, 'routes')))
      writeFileSync(join(config, file), moved(readFileSync(join(ROOT, 'routes', file), 'utf8')));
    const { EDGEWAY_ADMIN_TOKEN: _token, ...env } = process.env;
    // detached: the script and everything it starts form one process group, killed as a whole afterwards.
    const shell = spawn('bash', ['-c', moved(lines.slice(1).join('\n'))], {
      cwd: ROOT,
      detached: true,
      env: { ...env, EDGEWAY_CONFIG: config, EDGEWAY_DATA_DIR: join(dir, '.data'), REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    shell.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    shell.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    try {
      const code = await new Promise<number | null>((resolve) => shell.once('exit', resolve));
      assert.equal(code, 0, `stdout:\n${out}\nstderr:\n${err}`);
      assert.equal(
        out.match(/^hello from \/hi$/gm)?.length,
        2,
        `the open and the token route each answered once\nstdout:\n${out}\nstderr:\n${err}`,
      );
    } finally {
      try {
        process.kill(-(shell.pid as number), 'SIGKILL');
      } catch {
        // The group is gone already: the script's own kill stopped everything.
      }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
