/** A gateway on a real 3-master Redis Cluster: discovery routes to a registered instance, and a rate limit holds across two gateways. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { register, type Registration } from '../../src/discovery/client.js';
import type { RedisClient } from '../../src/store/backend.js';
import { createRedisClient, parseRedisUrl } from '../../src/store/redis-url.js';
import { startGateway, type TestGateway, discoveredOrdersYaml } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startCluster, type TestCluster } from './topologies.js';
import { waitFor } from '../helpers/wait-for.js';

const CONFIG = discoveredOrdersYaml({
  extraRoutes:
    '  - { name: limited, match: { path: /limited }, service: orders, rateLimit: { capacity: 5, refillPerSecond: 0.01, key: route, onStoreFailure: closed } }\n',
});

describe('Redis Cluster (3 masters)', () => {
  let cluster: TestCluster;
  let upstream: Upstream;
  let client: RedisClient;
  let registration: Registration;
  const gateways: TestGateway[] = [];

  before(async () => {
    cluster = await startCluster();
    upstream = await startUpstream();
    client = createRedisClient(parseRedisUrl(cluster.url));
    registration = await register({
      redis: client,
      service: 'orders',
      id: 'o1',
      url: upstream.url,
      ttlMs: 10_000,
    });
    for (let i = 0; i < 2; i++)
      gateways.push(await startGateway({ 'config.yaml': CONFIG }, { redisUrl: cluster.url }));
  });

  after(async () => {
    for (const g of gateways) await g.stop();
    await registration?.stop();
    client?.disconnect();
    await upstream?.close();
    await cluster?.stop();
  });

  test('the URL names a cluster whose slots are spread over three masters', async () => {
    assert.equal(parseRedisUrl(cluster.url).kind, 'cluster');
    const nodes = (client as import('ioredis').Cluster).nodes('master');
    assert.equal(nodes.length, 3);
  });

  test('both gateways route to the instance registered through the cluster', async () => {
    for (const g of gateways) {
      await waitFor(
        async () => (await fetch(`${g.url}/orders/7`)).status === 200,
        5000,
        'the instance to reach the gateway',
        100,
      );
      const res = await fetch(`${g.url}/orders/7`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { url: string }).url, '/orders/7');
    }
  });

  test('a deregistration reaches both gateways: no instance left means 503', async () => {
    await registration.stop();
    for (const g of gateways) {
      await waitFor(
        async () => (await fetch(`${g.url}/orders/1`)).status === 503,
        5000,
        'the deregistration to reach the gateway',
        100,
      );
    }
    registration = await register({
      redis: client,
      service: 'orders',
      id: 'o1',
      url: upstream.url,
      ttlMs: 10_000,
    });
    for (const g of gateways)
      await waitFor(
        async () => (await fetch(`${g.url}/orders/1`)).status === 200,
        5000,
        'the instance to come back',
        100,
      );
  });

  test('one bucket shared by both gateways: 8 requests split over two gateways, 5 allowed', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const g = gateways[i % 2] as TestGateway;
      const res = await fetch(`${g.url}/limited`);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    assert.equal(statuses.filter((s) => s === 200).length, 5, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 3, `statuses: ${statuses.join(',')}`);
  });
});
