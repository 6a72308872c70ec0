import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import pino from 'pino';
import { MAX_CONFIG_FILE_BYTES } from '../../src/config/read-file.js';
import { runCli } from '../cli/cli-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

async function statusOf(url: string): Promise<number> {
  const res = await request(url);
  await res.body.dump();
  return res.statusCode;
}

describe('live reload', () => {
  let up: Upstream;
  let gw: TestGateway;
  const services = () => serviceYaml('svc', [up.url]);

  before(async () => {
    up = await startUpstream();
    gw = await startGateway({ 'services.yaml': '', 'routes.yaml': '' }, { watch: true });
    gw.write('services.yaml', services());
    gw.write('routes.yaml', 'routes:\n  - { name: a, match: { path: /a }, service: svc }\n');
    const reply = await request(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    assert.equal(reply.statusCode, 200);
    await reply.body.dump();
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  test('an edited file is picked up by the watcher', async () => {
    assert.equal(await statusOf(`${gw.url}/a`), 200);
    gw.write(
      'routes.yaml',
      'routes:\n  - { name: a, match: { path: /a }, service: svc }\n  - { name: b, match: { path: /b }, service: svc }\n',
    );
    await waitFor(
      async () => (await statusOf(`${gw.url}/b`)) === 200,
      3000,
      'the watcher to pick up the edit',
    );
  });

  test('an invalid edit is refused with the check errors and the last good config keeps serving', async () => {
    gw.write('routes.yaml', 'routes:\n  - { name: a, match: { path: /a }, service: nope }\n');
    const reply = await request(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    assert.equal(reply.statusCode, 400);
    const body = (await reply.body.json()) as { status: string; errors: string[] };
    assert.equal(body.status, 'rejected');
    assert.match(
      body.errors[0] as string,
      /routes\.yaml:2: routes\[0\]\.service: unknown service "nope"$/,
    );
    assert.equal(await statusOf(`${gw.url}/a`), 200);
    assert.equal(await statusOf(`${gw.url}/b`), 200);
  });

  test('in-flight requests finish on the snapshot they started with', async () => {
    gw.write('routes.yaml', 'routes:\n  - { name: a, match: { path: /a }, service: svc }\n');
    const inFlight = request(`${gw.url}/a`);
    const reply = await request(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    await reply.body.dump();
    assert.equal((await inFlight).statusCode, 200);
    assert.equal(await statusOf(`${gw.url}/b`), 404);
  });
});

/** The bounds the loader applies; the hostile edits below each cross one. */
const ALIAS_BOMB = Array.from({ length: 10 }, (_, i) =>
  i === 0
    ? 'x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'
    : `x${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
).join('\n');

describe('hostile config edits are refused, never fatal', () => {
  let up: Upstream;
  let gw: TestGateway;
  const ROUTES = 'routes:\n  - { name: a, match: { path: /a }, service: svc }\n';

  async function reloadFailures(): Promise<number> {
    const res = await request(`${gw.adminUrl}/metrics`);
    const text = await res.body.text();
    return Number(/edgeway_config_reloads_total\{result="failure"\} (\d+)/.exec(text)?.[1] ?? 0);
  }

  before(async () => {
    up = await startUpstream();
    gw = await startGateway(
      { 'services.yaml': serviceYaml('svc', [up.url]), 'routes.yaml': ROUTES },
      { watch: true },
    );
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  const cases: Array<{ name: string; edit: () => void; undo: () => void; error: RegExp }> = [
    {
      name: 'a YAML alias bomb',
      edit: () => gw.write('bomb.yaml', ALIAS_BOMB),
      undo: () => rmSync(join(gw.configDir, 'bomb.yaml')),
      error: /bomb\.yaml: Excessive alias count .*at most 1000 alias expansions per file/,
    },
    {
      name: 'a symbolic link loop in the config folder',
      edit: () => symlinkSync(join(gw.configDir, 'loop.yaml'), join(gw.configDir, 'loop.yaml')),
      undo: () => rmSync(join(gw.configDir, 'loop.yaml')),
      error: /loop\.yaml: cannot read config: a symbolic link loop$/,
    },
    {
      name: 'a symbolic link to /dev/zero',
      edit: () => symlinkSync('/dev/zero', join(gw.configDir, 'zero.yaml')),
      undo: () => rmSync(join(gw.configDir, 'zero.yaml')),
      error: /zero\.yaml: cannot read config: not a regular file$/,
    },
    {
      name: 'a file over the size limit',
      edit: () => gw.write('big.yaml', `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`),
      undo: () => rmSync(join(gw.configDir, 'big.yaml')),
      error: /big\.yaml: larger than 1048576 bytes/,
    },
    {
      name: 'a static instance URL with credentials',
      edit: () =>
        gw.write('services.yaml', serviceYaml('svc', [up.url.replace('//', '//user:secret@')])),
      undo: () => gw.write('services.yaml', serviceYaml('svc', [up.url])),
      error:
        /services\.yaml:3: services\.svc\.instances\[0\]: url must not carry credentials \(user:password@\)$/,
    },
    {
      name: 'a trusted proxy that passes the schema but not the compiler',
      edit: () => gw.write('gateway.yaml', 'gateway:\n  trustedProxies: [nonsense/99]\n'),
      undo: () => rmSync(join(gw.configDir, 'gateway.yaml')),
      error:
        /gateway\.yaml:2: gateway\.trustedProxies\[0\]: "nonsense\/99" is not an IP address or CIDR/,
    },
  ];

  for (const c of cases) {
    test(`${c.name}: the watcher refuses it, reload reports why, /a keeps answering 200`, async () => {
      const failures = await reloadFailures();
      c.edit();
      try {
        await waitFor(
          async () => (await reloadFailures()) > failures,
          3000,
          'the watcher to refuse the edit',
        );
        const reply = await request(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
        assert.equal(reply.statusCode, 400);
        const body = (await reply.body.json()) as { errors: string[] };
        assert.ok(
          body.errors.some((e) => c.error.test(e)),
          body.errors.join('\n'),
        );
        assert.equal(await statusOf(`${gw.url}/a`), 200);
      } finally {
        c.undo();
      }
      const reply = await request(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
      assert.equal(reply.statusCode, 200);
      await reply.body.dump();
    });
  }

  test("one anchor reused on 200 routes (more than yaml's default of 100 aliases) loads", async () => {
    const routes = Array.from({ length: 200 }, (_, i) =>
      i === 0
        ? '  - { name: r0, match: { path: /r0 }, service: svc, rateLimit: &rl { capacity: 100, refillPerSecond: 10 }, timeouts: &t { request: 5s } }'
        : `  - { name: r${i}, match: { path: /r${i} }, service: svc, rateLimit: *rl, timeouts: *t }`,
    );
    gw.write('routes.yaml', `${ROUTES}${routes.join('\n')}\n`);
    const reply = await request(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    const body = await reply.body.text();
    assert.equal(reply.statusCode, 200, body);
    assert.equal(await statusOf(`${gw.url}/r199`), 200);
  });
});

test('a refused reload logs exactly the lines edgeway check prints for the same folder', async () => {
  const up = await startUpstream();
  const logLines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
  const gw = await startGateway(
    {
      'services.yaml': serviceYaml('svc', [up.url]),
      'routes.yaml': 'routes:\n  - { name: a, service: svc }\n',
    },
    { logger },
  );
  try {
    // A cross-field error and two that only the runtime's compilers find, in two files.
    gw.write('gateway.yaml', 'gateway:\n  trustedProxies: [10.0.0.0/8, nonsense/99]\n');
    gw.write(
      'routes.yaml',
      'routes:\n  - { name: a, service: svc, split: [{ service: svc, weight: 60 }, { service: svc, weight: 50 }] }\n  - { name: b, service: nope }\n',
    );
    assert.equal((await gw.gateway.reload()).ok, false);
    const logged = (JSON.parse(logLines.at(-1) as string) as { errors: string[] }).errors;
    const check = runCli(['check', '--config', gw.configDir]);
    assert.equal(await check.exited(), 1);
    const printed = check.stderr().trim().split('\n').slice(0, -1);
    assert.equal(printed.length, 3, check.stderr());
    assert.deepEqual(logged, printed);
    assert.equal(await statusOf(`${gw.url}/a`), 200);
  } finally {
    await gw.stop();
    await up.close();
  }
});
