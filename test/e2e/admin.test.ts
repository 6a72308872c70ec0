import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { StartError } from '../../src/server/gateway.js';

const ROUTES = 'routes:\n  - { name: all, match: { path: / }, service: svc }\n';

describe('admin listener', () => {
  let up: Upstream;
  let gw: TestGateway;

  before(async () => {
    up = await startUpstream();
    gw = await startGateway({ 'c.yaml': serviceYaml('svc', [up.url]) + ROUTES });
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  test('serves health, readiness and routes on loopback without a token', async () => {
    for (const path of ['/healthz', '/readyz', '/admin/routes']) {
      const res = await request(`${gw.adminUrl}${path}`);
      assert.equal(res.statusCode, 200, path);
      await res.body.dump();
    }
  });

  test('nothing of the admin API is reachable on the public port, even through a catch-all route', async () => {
    up.seen.length = 0;
    const res = await request(`${gw.url}/admin/routes`);
    const body = (await res.body.json()) as { url?: string };
    assert.equal(
      body.url,
      '/admin/routes',
      'the request went to the upstream, not to the admin API',
    );
  });

  test('off loopback the gateway refuses to start without EDGEWAY_ADMIN_TOKEN', async () => {
    await assert.rejects(
      startGateway({
        'c.yaml':
          serviceYaml('svc', [up.url]) + ROUTES + 'gateway:\n  admin: { host: 0.0.0.0, port: 0 }\n',
      }),
      (err: unknown) => err instanceof StartError && /EDGEWAY_ADMIN_TOKEN/.test(err.message),
    );
  });

  test('off loopback with a token, /admin/* demands the bearer and health stays open', async () => {
    const g = await startGateway(
      {
        'c.yaml':
          serviceYaml('svc', [up.url]) + ROUTES + 'gateway:\n  admin: { host: 0.0.0.0, port: 0 }\n',
      },
      { adminToken: 's3cret-token' },
    );
    try {
      const none = await request(`${g.adminUrl}/admin/routes`);
      assert.equal(none.statusCode, 401);
      assert.equal(
        ((await none.body.json()) as { error: { code: string } }).error.code,
        'unauthorized',
      );
      const wrong = await request(`${g.adminUrl}/admin/routes`, {
        headers: { authorization: 'Bearer s3cret-tokem' },
      });
      assert.equal(wrong.statusCode, 401);
      await wrong.body.dump();
      const right = await request(`${g.adminUrl}/admin/routes`, {
        headers: { authorization: 'Bearer s3cret-token' },
      });
      assert.equal(right.statusCode, 200);
      await right.body.dump();
      const health = await request(`${g.adminUrl}/healthz`);
      assert.equal(health.statusCode, 200);
      await health.body.dump();
    } finally {
      await g.stop();
    }
  });
});
