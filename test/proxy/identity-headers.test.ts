/** A caller whose sub and scopes are not Latin-1 reaches the upstream, and never takes an instance down. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

interface ServicesBody {
  readonly services: ReadonlyArray<{
    readonly name: string;
    readonly instances: ReadonlyArray<{
      readonly ejected: boolean;
      readonly healthy: boolean | null;
    }>;
  }>;
}

describe('non-ASCII identity headers', () => {
  let upstreams: Upstream[];
  let gw: TestGateway;

  before(async () => {
    upstreams = [await startUpstream(), await startUpstream()];
    gw = await startGateway({
      'c.yaml': `auth:
  issuers: [{ issuer: edgeway, audience: api }]
services:
  svc:
    instances: [${upstreams.map((u) => u.url).join(', ')}]
    loadBalancer: { policy: round-robin }
    outlierDetection: { consecutive5xx: 1, baseEjectionTime: 30s, maxEjectionPercent: 100 }
    retries: { attempts: 2, on: [connect-failure, reset, 502, 503, 504] }
routes:
  - { name: open, match: { path: /open }, service: svc }
  - { name: private, match: { path: /private }, service: svc, auth: { required: true, scopes: [orders:read] } }
`,
    });
  });

  after(async () => {
    await gw.stop();
    for (const upstream of upstreams) await upstream.close();
  });

  async function mint(sub: string, scopes: string[]): Promise<string> {
    const res = await request(`${gw.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub, scopes, ttl: '5m' }),
    });
    assert.equal(res.statusCode, 200);
    return ((await res.body.json()) as { token: string }).token;
  }

  test('two requests as 山田 reach both instances, percent-encoded; other clients still get 200 and nothing is ejected', async () => {
    const token = await mint('山田', ['orders:read', 'other']);
    for (let i = 0; i < 2; i++) {
      const res = await request(`${gw.url}/private`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await res.body.dump();
      assert.equal(res.statusCode, 200);
    }
    for (const upstream of upstreams) {
      const seen = upstream.seen.at(-1);
      assert.equal(seen?.headers['x-edgeway-sub'], '%E5%B1%B1%E7%94%B0');
      assert.equal(decodeURIComponent(seen?.headers['x-edgeway-sub'] as string), '山田');
      assert.equal(seen?.headers['x-edgeway-scopes'], 'orders:read other');
    }
    for (let i = 0; i < 4; i++) {
      const res = await request(`${gw.url}/open`);
      await res.body.dump();
      assert.equal(res.statusCode, 200);
    }
    const status = (await (
      await request(`${gw.adminUrl}/admin/services`)
    ).body.json()) as ServicesBody;
    const instances = status.services.find((s) => s.name === 'svc')?.instances ?? [];
    assert.equal(instances.length, 2);
    assert.ok(
      instances.every((instance) => !instance.ejected),
      'an instance was ejected',
    );
  });
});
