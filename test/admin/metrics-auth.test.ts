/** With an admin token set, /metrics needs it like /admin/*; the probes stay open for the kubelet. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';

const TOKEN = 'metrics-test-token-0123456789';

describe('admin listener with a token', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway(
      {
        'c.yaml': `${serviceYaml('svc', ['http://127.0.0.1:9'])}routes:\n  - { name: r, match: { path: /r }, service: svc }\n`,
      },
      { adminToken: TOKEN },
    );
  });
  after(async () => gw?.stop());

  const get = async (path: string, token?: string): Promise<Response> =>
    fetch(`${gw.adminUrl}${path}`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });

  test('/metrics without the token is 401 with the bearer challenge; with it, the Prometheus text', async () => {
    const anonymous = await get('/metrics');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer /);
    assert.equal(
      ((await anonymous.json()) as { error: { code: string } }).error.code,
      'unauthorized',
    );
    assert.equal((await get('/metrics', 'wrong')).status, 401);
    const scraped = await get('/metrics', TOKEN);
    assert.equal(scraped.status, 200);
    assert.match(await scraped.text(), /^# HELP edgeway_/m);
  });

  test('/healthz and /readyz answer without a token (kubelet probes carry none)', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await get(path);
      await response.body?.cancel();
      assert.equal(response.status, 200, path);
    }
  });
});
