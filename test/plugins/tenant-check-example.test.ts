/** The example plugin's own test: its create checks the config, its hook decides from a request view (how a plugin author tests one). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorCode, PluginInstance, PluginPrincipal, PluginRequest } from 'edgeway/plugin';
import tenantCheck from '../../examples/plugins/tenant-check.js';

/** A request view as edgeway hands it to a hook, over plain data. */
function fakeRequest(
  headers: Record<string, string>,
  principal?: PluginPrincipal,
): PluginRequest & { sent: Record<string, string> } {
  const sent: Record<string, string> = {};
  return {
    method: 'GET',
    path: '/api/orders',
    query: '',
    clientIp: '203.0.113.7',
    principal,
    sent,
    headers: {
      get: (name) => sent[name.toLowerCase()] ?? headers[name.toLowerCase()],
      set: (name, value) => void (sent[name.toLowerCase()] = value),
      delete: (name) => void delete sent[name.toLowerCase()],
    },
    reject(status: number, code: ErrorCode, message: string): never {
      throw Object.assign(new Error(message), { status, code });
    },
  };
}

async function instance(config?: unknown): Promise<PluginInstance> {
  return tenantCheck.create(config as never);
}

const cases: Array<
  [string, Record<string, string>, PluginPrincipal | undefined, number | undefined]
> = [
  [
    'a caller with the tenant scope passes',
    { 'x-tenant': 'acme' },
    { sub: 'alice', scopes: ['tenant:acme'] },
    undefined,
  ],
  ['no tenant header is 400', {}, { sub: 'alice', scopes: ['tenant:acme'] }, 400],
  [
    'a malformed tenant is 400',
    { 'x-tenant': 'acme corp' },
    { sub: 'alice', scopes: ['tenant:acme'] },
    400,
  ],
  ['an anonymous caller is 401', { 'x-tenant': 'acme' }, undefined, 401],
  [
    "another tenant's caller is 403",
    { 'x-tenant': 'globex' },
    { sub: 'alice', scopes: ['tenant:acme'] },
    403,
  ],
];

for (const [name, headers, principal, status] of cases) {
  test(name, async () => {
    const req = fakeRequest(headers, principal);
    const { onRequest } = await instance({ header: 'X-Tenant' });
    if (status === undefined) {
      onRequest?.(req);
      assert.equal(req.sent['x-tenant-verified'], 'acme');
    } else {
      assert.throws(() => onRequest?.(req), { status });
    }
  });
}

test('create refuses a config it cannot use', async () => {
  await assert.rejects(
    instance({ header: 'not a header' }),
    /header must be a lower-case header name/,
  );
  await assert.rejects(instance('x-tenant'), /config must be a mapping/);
  assert.equal(typeof (await instance()).onRequest, 'function', 'every key has a default');
});
