/** Plugins through a real gateway and upstream: hooks and views, isolation (throw, timeout, forbidden header), spans and metrics, reload, config errors with file and line. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanStatusCode } from '@opentelemetry/api';
import { request } from 'undici';
import { runCli } from '../cli/cli-process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/plugins/tenant-check.ts', import.meta.url));

const modules: Record<string, string> = {
  'noop.mjs': `export default { name: 'noop', create() { return { onRequest() {} }; } };`,
  'thrower.mjs': `export default { name: 'thrower', create() { return { onRequest(req) { if (req.headers.get('x-boom') !== undefined) throw new Error('boom'); } }; } };`,
  'slow.mjs': `export default { name: 'slow', create() { return { onRequest(req) { if (req.headers.get('x-slow') !== undefined) return new Promise((r) => setTimeout(r, 300)); } }; } };`,
  'busy.mjs': `export default { name: 'busy', create() { return { onRequest(req) { if (req.headers.get('x-busy') === undefined) return; const end = Date.now() + 80; while (Date.now() < end); } }; } };`,
  'edit.mjs': `export default { name: 'edit', create(config) { return {
    onRequest(req) {
      req.headers.set('x-plugin', config.value + ' ' + req.method + ' ' + req.path + ' ' + req.query);
      req.headers.delete('x-secret');
      if (req.headers.get('x-forge') !== undefined) req.headers.set('x-edgeway-sub', 'root');
    },
    onResponse(res) {
      res.headers.set('x-plugin-saw', String(res.status));
      res.headers.delete('x-upstream-private');
      if (res.headers.get('x-frame') !== undefined) res.headers.set('content-length', '1');
    },
  }; } };`,
  'version.mjs': `export default { name: 'version', create() { return { onRequest(req) { req.headers.set('x-version', 'v1'); } }; } };`,
  'picky.mjs': `export default { name: 'picky', create(config) { if (config?.bad) throw new Error('bad must not be set'); return {}; } };`,
};

const routesYaml = `plugins:
  - { name: noop, module: ./noop.mjs }
  - { name: thrower, module: ./thrower.mjs }
  - { name: slow, module: ./slow.mjs }
  - { name: busy, module: ./busy.mjs }
  - { name: edit, module: ./edit.mjs }
  - { name: version, module: ./version.mjs }
  - { name: picky, module: ./picky.mjs }
  - { name: tenant-check, module: ${EXAMPLE} }
routes:
  - { name: noop, match: { path: /noop }, service: svc, plugins: [{ name: noop }] }
  - { name: fail, match: { path: /fail }, service: svc, plugins: [{ name: thrower }, { name: slow }, { name: busy }] }
  - { name: edit, match: { path: /edit }, service: svc, plugins: [{ name: edit, config: { value: v1 } }] }
  - { name: version, match: { path: /version }, service: svc, plugins: [{ name: version }, { name: picky, config: { bad: false } }] }
  - { name: tenant, match: { path: /tenant }, service: svc, auth: { apiKeys: true }, plugins: [{ name: tenant-check, config: { header: x-tenant } }] }
`;

describe('plugins', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const exporter = new InMemorySpanExporter();

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const payload = JSON.stringify({ headers: req.headers });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        'x-upstream-private': 'yes',
        ...(req.headers['x-frame'] ? { 'x-frame': '1' } : {}),
      });
      res.end(payload);
    });
    gw = await startGateway(
      { ...modules, 'c.yaml': `${serviceYaml('svc', [upstream.url])}${routesYaml}` },
      { tracing: { spanExporter: exporter } },
    );
  });

  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await request(`${gw.url}${path}`, { headers });
    const text = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers,
      body: JSON.parse(text) as {
        headers?: Record<string, string>;
        error?: { code: string; message: string };
      },
    };
  };

  test('a route with a no-op plugin is forwarded as usual', async () => {
    assert.equal((await get('/noop/1')).status, 200);
  });

  test('a hook that throws is 500 internal_error, counted and traced; the next request is served', async () => {
    exporter.reset();
    const before = upstream.seen.length;
    const res = await get('/fail', { 'x-boom': '1' });
    assert.equal(res.status, 500);
    assert.deepEqual(
      [res.body.error?.code, res.body.error?.message],
      ['internal_error', 'plugin "thrower" failed'],
    );
    assert.equal(upstream.seen.length, before, 'the upstream never saw it');
    assert.equal((await get('/fail')).status, 200);
    // The span processor hands spans to the exporter asynchronously.
    await waitFor(
      () =>
        exporter
          .getFinishedSpans()
          .some(
            (s) => s.name === 'edgeway.plugin thrower' && s.status.code === SpanStatusCode.ERROR,
          ),
      1000,
      'an errored edgeway.plugin thrower span',
    );
    await waitFor(
      () => exporter.getFinishedSpans().some((s) => s.name === 'edgeway.plugin busy'),
      1000,
      'a span for every plugin',
    );
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /edgeway_plugin_errors_total\{plugin="thrower",reason="error"\} 1/);
  });

  test('a hook that takes longer than gateway.pluginTimeout is 500, whether its promise outlives it or it blocks synchronously', async () => {
    const slow = await get('/fail', { 'x-slow': '1' });
    assert.equal(slow.status, 500);
    assert.equal(slow.body.error?.message, 'plugin "slow" took longer than 50 ms');
    const busy = await get('/fail', { 'x-busy': '1' });
    assert.equal(busy.status, 500);
    assert.equal(busy.body.error?.message, 'plugin "busy" took longer than 50 ms');
    assert.equal((await get('/fail')).status, 200);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /edgeway_plugin_errors_total\{plugin="slow",reason="timeout"\} 1/);
    assert.match(metrics, /edgeway_plugin_errors_total\{plugin="busy",reason="timeout"\} 1/);
  });

  test('hooks read the request and edit request and response headers through their views', async () => {
    const res = await get('/edit/a?x=1', { 'x-secret': 'hidden' });
    assert.equal(res.status, 200);
    assert.equal(res.body.headers?.['x-plugin'], 'v1 GET /edit/a x=1');
    assert.equal(res.body.headers?.['x-secret'], undefined);
    assert.equal(res.headers['x-plugin-saw'], '200');
    assert.equal(res.headers['x-upstream-private'], undefined);
  });

  test('a plugin cannot forge x-edgeway-* or break framing: 500, and the gateway keeps serving', async () => {
    const before = upstream.seen.length;
    const forged = await get('/edit', { 'x-forge': '1' });
    assert.equal(forged.status, 500);
    assert.equal(upstream.seen.length, before);
    const framed = await get('/edit', { 'x-frame': '1' });
    assert.equal(framed.status, 500);
    assert.equal(framed.body.error?.message, 'plugin "edit" failed');
    assert.equal((await get('/edit')).status, 200);
  });

  test("the example tenant-check plugin (TypeScript) decides from the API key's consumer scopes", async () => {
    const created = await fetch(`${gw.adminUrl}/admin/apikeys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ consumer: 'acme-app', scopes: ['tenant:acme'] }),
    });
    const { key } = (await created.json()) as { key: string };
    const ok = await get('/tenant', { 'x-api-key': key, 'x-tenant': 'acme' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.headers?.['x-tenant-verified'], 'acme');
    assert.equal(ok.body.headers?.['x-edgeway-sub'], 'acme-app');
    const other = await get('/tenant', { 'x-api-key': key, 'x-tenant': 'globex' });
    assert.equal(other.status, 403);
    assert.equal(other.body.error?.message, 'not allowed to act for tenant globex');
  });

  test('reload re-imports a changed module; a create that throws is refused with file and line, and the last good config keeps serving', async () => {
    assert.equal((await get('/version')).body.headers?.['x-version'], 'v1');
    gw.write('version.mjs', modules['version.mjs']!.replace("'v1'", "'v2'"));
    const reloaded = await fetch(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    assert.equal(reloaded.status, 200, await reloaded.text());
    assert.equal((await get('/version')).body.headers?.['x-version'], 'v2');

    const broken = `${serviceYaml('svc', [upstream.url])}${routesYaml.replace('config: { bad: false }', 'config: { bad: true }')}`;
    gw.write('c.yaml', broken);
    const line = broken.split('\n').findIndex((l) => l.includes('bad: true')) + 1;
    const expected = `c.yaml:${line}: routes[3].plugins[1]: plugin "picky" refused its config: bad must not be set`;
    const refused = await fetch(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    assert.equal(refused.status, 400);
    const { errors } = (await refused.json()) as { errors: string[] };
    assert.ok(
      errors.some((e) => e.endsWith(expected)),
      errors.join('\n'),
    );
    assert.equal(
      (await get('/version')).body.headers?.['x-version'],
      'v2',
      'still the last good config',
    );

    const check = runCli(['check', '--config', gw.configDir]);
    assert.equal(await check.exited(), 1);
    assert.ok(check.stderr().includes(expected.slice('c.yaml'.length)), check.stderr());
  });

  test('a route naming an undeclared plugin is a config error', async () => {
    gw.write(
      'c.yaml',
      `${serviceYaml('svc', [upstream.url])}${routesYaml.replace('plugins: [{ name: noop }]', 'plugins: [{ name: nope }]')}`,
    );
    const refused = await fetch(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    assert.equal(refused.status, 400);
    assert.match(
      await refused.text(),
      /routes\[0\]\.plugins\[0\]\.name: unknown plugin \\"nope\\"/,
    );
    await waitFor(
      async () => (await get('/noop')).status === 200,
      1000,
      'the last good config to keep serving',
    );
  });
});

test('saving a plugin module reloads it on a watching gateway', async () => {
  const upstream = await startUpstream();
  // Outside the config folder, so only the plugin watch (not the config folder's) can see the edit.
  const pluginDir = mkdtempSync(join(tmpdir(), 'edgeway-plugin-'));
  const module = join(pluginDir, 'version.mjs');
  writeFileSync(module, modules['version.mjs']!);
  const gw = await startGateway(
    {
      'c.yaml': `${serviceYaml('svc', [upstream.url])}plugins:\n  - { name: version, module: ${module} }\nroutes:\n  - { name: v, service: svc, plugins: [{ name: version }] }\n`,
    },
    { watch: true },
  );
  try {
    const version = async (): Promise<string | undefined> => {
      const res = await request(`${gw.url}/`);
      return ((await res.body.json()) as { headers: Record<string, string> }).headers['x-version'];
    };
    assert.equal(await version(), 'v1');
    writeFileSync(module, modules['version.mjs']!.replace("'v1'", "'v2'"));
    await waitFor(async () => (await version()) === 'v2', 3000, 'the edited plugin to be served');
  } finally {
    await gw.stop();
    await upstream.close();
    rmSync(pluginDir, { recursive: true, force: true });
  }
});
