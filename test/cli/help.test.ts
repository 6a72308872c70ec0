/** The CLI's conventions, from outside: --version, --help with a description and default per option, `edgeway: ` on every message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/redis-server.js';
import { ROOT, runCli } from './cli-process.js';

const COMMANDS = [
  ['start'],
  ['check'],
  ['demo'],
  ['register'],
  ['services'],
  ['token', 'issue'],
  ['token', 'revoke'],
  ['keys', 'list'],
  ['keys', 'rotate'],
  ['clients', 'add'],
  ['clients', 'list'],
  ['clients', 'remove'],
  ['apikeys', 'issue'],
  ['apikeys', 'list'],
  ['apikeys', 'revoke'],
];

/** Runs the commands a few at a time (each child spends most of its time loading the TypeScript sources). */
async function runAll(
  argvs: readonly string[][],
  env: Record<string, string> = {},
): Promise<Array<{ code: number | string; stdout: string; stderr: string }>> {
  const results: Array<{ code: number | string; stdout: string; stderr: string }> = [];
  for (let i = 0; i < argvs.length; i += 4) {
    const batch = argvs.slice(i, i + 4).map((argv) => runCli(argv, env));
    for (const cli of batch)
      results.push({ code: await cli.exited(), stdout: cli.stdout(), stderr: cli.stderr() });
  }
  return results;
}

test('edgeway --version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  const [long, short] = await runAll([['--version'], ['-v']]);
  assert.deepEqual(long, { code: 0, stdout: `edgeway ${version}\n`, stderr: '' });
  assert.deepEqual(short, long);
});

test(
  'every --help option line has a description and its default (or says it is required)',
  { timeout: 300_000 },
  async () => {
    const results = await runAll(COMMANDS.map((argv) => [...argv, '--help']));
    results.forEach(({ code, stdout }, i) => {
      const name = (COMMANDS[i] as string[]).join(' ');
      assert.equal(code, 0, name);
      assert.match(stdout, new RegExp(`^edgeway ${name}`), name);
      const options = stdout
        .slice(stdout.indexOf('\nOptions:\n') + 10)
        .trimEnd()
        .split('\n');
      assert.ok(options.length >= 2, `${name}: options listed`);
      for (const line of options) {
        if (line.startsWith('  --help ')) continue;
        assert.match(
          line,
          /^ {2}--[a-z-]+( \S+)? {2,}\S.* \((default: .+|required)\)$/,
          `${name}: ${line}`,
        );
      }
    });
  },
);

test(
  'every error message starts with "edgeway: " on stderr, whatever failed',
  { timeout: 300_000 },
  async () => {
    const closed = await freePort();
    const failing: Array<[string[], number, RegExp]> = [
      [['frobnicate'], 2, /^edgeway: unknown command "frobnicate"/],
      [['token', 'issue', '--scope', 'x'], 2, /^edgeway: --sub is required/],
      [['register', '--service', 'orders'], 2, /^edgeway: --service and --url are required/],
      [
        ['services', '--admin', `http://127.0.0.1:${closed}`],
        1,
        new RegExp(
          `^edgeway: cannot reach the gateway's admin API: connection refused at 127\\.0\\.0\\.1:${closed}\\n$`,
        ),
      ],
      [
        ['keys', 'list', '--redis', 'redis://127.0.0.1:1'],
        1,
        /^edgeway: cannot use Redis at redis:\/\/127\.0\.0\.1:1: /,
      ],
      [['check', '--config', 'does-not-exist'], 1, /^edgeway: /m],
    ];
    const results = await runAll(failing.map(([argv]) => argv));
    results.forEach(({ code, stderr }, i) => {
      const [argv, exit, message] = failing[i] as [string[], number, RegExp];
      assert.equal(code, exit, `${argv.join(' ')}: ${stderr}`);
      assert.match(stderr, message, argv.join(' '));
    });
  },
);
