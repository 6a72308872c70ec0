/** Registrations that point at edgeway's own listeners, or outside `discovery.allowedNetworks`, are refused and never routed to. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { discoveredOrdersYaml, startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorOf, exchange } from '../helpers/http-exchange.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const CONFIG = discoveredOrdersYaml({ stripPrefix: true });
const MINT = JSON.stringify({ sub: 'mallory', scopes: ['admin'], ttl: '1h' });

function put(gw: TestGateway, id: string, url: string): ReturnType<typeof exchange> {
  return exchange(
    gw.gateway.adminPort,
    'PUT',
    `/admin/services/orders/instances/${id}`,
    { 'content-type': 'application/json' },
    JSON.stringify({ url }),
  );
}

async function listed(gw: TestGateway): Promise<string[]> {
  const answer = await exchange(gw.gateway.adminPort, 'GET', '/admin/services');
  const { services } = JSON.parse(answer.body) as {
    services: Array<{ name: string; instances: Array<{ id: string }> }>;
  };
  return (
    services
      .find((service) => service.name === 'orders')
      ?.instances.map((instance) => instance.id) ?? []
  );
}

describe("instances at edgeway's own listeners", () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startGateway({ 'c.yaml': CONFIG });
  });
  after(async () => {
    await gw.stop();
  });

  test('a PUT at the admin port or the public port is 403 forbidden and registers nothing', async () => {
    for (const url of [
      `http://127.0.0.1:${gw.gateway.adminPort}`,
      `http://localhost:${gw.gateway.port}/`,
      `http://[::1]:${gw.gateway.adminPort}`,
    ]) {
      const answer = await put(gw, 'loop', url);
      assert.equal(answer.status, 403, `${url}: ${answer.body}`);
      assert.match(errorOf(answer).message, /own listener/);
    }
    assert.deepEqual(await listed(gw), []);
  });

  test('a record at the admin port that reaches the registry another way is never routed to: no token minting through the public port', async () => {
    await gw.gateway.registry.register(
      {
        id: 'sneaky',
        service: 'orders',
        url: `http://127.0.0.1:${gw.gateway.adminPort}`,
        weight: 1,
        capacity: 100,
        meta: {},
        draining: false,
      },
      30_000,
    );
    const answer = await exchange(
      gw.gateway.port,
      'POST',
      '/orders/admin/tokens',
      { 'content-type': 'application/json' },
      MINT,
    );
    assert.equal(answer.status, 503, answer.body);
    assert.equal(errorOf(answer).code, 'unavailable');
    assert.deepEqual(await listed(gw), []);
    await gw.gateway.registry.deregister('orders', 'sneaky');
  });
});

describe('an instance named by a host name that resolves to this machine', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startGateway({ 'c.yaml': CONFIG });
  });
  after(async () => {
    await gw.stop();
  });

  // The machine's own name resolves to one of its addresses (/etc/hosts maps it to 127.0.0.1 or 127.0.1.1);
  // any DNS name can do the same (`*.nip.io`), so only the address connected to tells.
  test("is never connected to at an own listener's port: no token minting through the public port", async (t) => {
    const named = `http://${hostname()}:${gw.gateway.adminPort}`;
    if (
      !(await fetch(`${named}/healthz`).then(
        (res) => res.ok,
        () => false,
      ))
    )
      return t.skip(`${named} does not reach the admin listener here`);
    assert.equal((await put(gw, 'named', named)).status, 200);
    const answer = await exchange(
      gw.gateway.port,
      'POST',
      '/orders/admin/tokens',
      { 'content-type': 'application/json' },
      MINT,
    );
    assert.notEqual(answer.status, 200, answer.body);
    assert.doesNotMatch(answer.body, /"token"/);
    assert.equal(errorOf(answer).code, 'bad_gateway');
  });
});

describe('discovery.allowedNetworks', () => {
  let upstream: Upstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      'c.yaml': `${CONFIG}discovery: { allowedNetworks: [10.0.0.0/8] }\n`,
    });
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  test('a PUT outside the networks is 403 forbidden; a record held from before is routed once a reload admits it', async () => {
    const refused = await put(gw, 'u1', upstream.url);
    assert.equal(refused.status, 403, refused.body);
    assert.match(errorOf(refused).message, /outside discovery\.allowedNetworks/);

    await gw.gateway.registry.register(
      {
        id: 'u1',
        service: 'orders',
        url: upstream.url,
        weight: 1,
        capacity: 100,
        meta: {},
        draining: false,
      },
      30_000,
    );
    assert.equal((await exchange(gw.gateway.port, 'GET', '/orders/x')).status, 503);

    gw.write('c.yaml', `${CONFIG}discovery: { allowedNetworks: [10.0.0.0/8, 127.0.0.0/8] }\n`);
    assert.deepEqual(await gw.gateway.reload(), { ok: true });
    assert.equal((await exchange(gw.gateway.port, 'GET', '/orders/x')).status, 200);
    assert.equal((await put(gw, 'u2', upstream.url)).status, 200);
    assert.deepEqual(await listed(gw), ['u1', 'u2']);
  });

  test('an entry that is not a CIDR is a config error', async () => {
    await assert.rejects(
      startGateway({ 'c.yaml': `${CONFIG}discovery: { allowedNetworks: [10.0.0.1] }\n` }),
      /invalid config/,
    );
  });
});
