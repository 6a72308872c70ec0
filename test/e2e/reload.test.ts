import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
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
    gw.write('routes.yaml', 'routes:\n  - { name: a, match: { path: /a }, service: svc }\n  - { name: b, match: { path: /b }, service: svc }\n');
    await waitFor(async () => (await statusOf(`${gw.url}/b`)) === 200, 3000, 'the watcher to pick up the edit');
  });

  test('an invalid edit is refused with the check errors and the last good config keeps serving', async () => {
    gw.write('routes.yaml', 'routes:\n  - { name: a, match: { path: /a }, service: nope }\n');
    const reply = await request(`${gw.adminUrl}/admin/reload`, { method: 'POST' });
    assert.equal(reply.statusCode, 400);
    const body = (await reply.body.json()) as { status: string; errors: string[] };
    assert.equal(body.status, 'rejected');
    assert.match(body.errors[0] as string, /routes\.yaml:2: routes\[0\]\.service: unknown service "nope"$/);
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
