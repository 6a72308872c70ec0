/** A gateway on a real Sentinel set keeps answering while the master is SIGKILLed and a replica is promoted. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { register, type Registration } from '../../src/discovery/client.js';
import type { RedisClient } from '../../src/store/backend.js';
import { createRedisClient, parseRedisUrl } from '../../src/store/redis-url.js';
import { startGateway, type TestGateway, discoveredOrdersYaml } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startSentinel, type TestSentinel } from './topologies.js';
import { waitFor } from '../helpers/wait-for.js';

const CONFIG = discoveredOrdersYaml({
  extraRoutes:
    '  - { name: limited, match: { path: /limited }, service: orders, rateLimit: { capacity: 100000, refillPerSecond: 1000, key: ip, onStoreFailure: local } }\n',
});

/** Time after the promotion during which clients may still be reconnecting, ms. */
const RECONNECT_GRACE_MS = 3000;

function countBy(list: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) out[`${s.path} ${s.status}`] = (out[`${s.path} ${s.status}`] ?? 0) + 1;
  return out;
}

interface Sample {
  readonly at: number;
  readonly path: string;
  readonly status: number;
}

describe('Redis Sentinel failover', () => {
  let sentinel: TestSentinel;
  let upstream: Upstream;
  let client: RedisClient;
  let registration: Registration;
  let gateway: TestGateway;
  let late: TestGateway | undefined;

  before(async () => {
    sentinel = await startSentinel();
    upstream = await startUpstream();
    client = createRedisClient(parseRedisUrl(sentinel.url));
    client.on('error', () => undefined);
    // The default TTL (10 s) outlasts the failover, so the instance does not expire while heartbeats fail; each
    // heartbeat re-sends the whole record, so the promoted replica has it even if replication lagged.
    registration = await register({
      redis: client,
      service: 'orders',
      id: 'o1',
      url: upstream.url,
      logger: { warn: () => undefined, info: () => undefined },
    });
    gateway = await startGateway({ 'config.yaml': CONFIG }, { redisUrl: sentinel.url });
    await waitFor(
      async () => (await fetch(`${gateway.url}/orders`)).status === 200,
      5000,
      'the instance to reach the gateway',
      100,
    );
  });

  after(async () => {
    // Each step runs even when an earlier one fails, so no redis-server outlives the test.
    const steps = [
      () => late?.stop(),
      () => gateway?.stop(),
      () => registration?.stop(),
      () => client?.disconnect(),
      () => upstream?.close(),
      () => sentinel?.stop(),
    ];
    for (const step of steps)
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
  });

  test('GETs keep being answered through the failover and the registration survives it', async (t) => {
    const samples: Sample[] = [];
    let running = true;
    const loop = async (path: string): Promise<void> => {
      while (running) {
        const res = await fetch(`${gateway.url}${path}`).catch(() => undefined);
        await res?.arrayBuffer();
        samples.push({ at: Date.now(), path, status: res?.status ?? 0 });
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const loops = [loop('/orders'), loop('/limited'), loop('/orders')];
    // Counts of samples, not wall time: the machine is shared, so a fixed pause may see few requests.
    await waitFor(async () => samples.length >= 20, 20_000, 'traffic before the kill', 100);

    const oldMaster = await sentinel.currentMasterPort();
    const killedAt = Date.now();
    await sentinel.killMaster();
    await waitFor(
      async () => (await sentinel.currentMasterPort()) === sentinel.replicaPort,
      20_000,
      'Sentinel to promote the replica',
      100,
    );
    const promotedAt = Date.now();
    const settled = promotedAt + RECONNECT_GRACE_MS;
    await waitFor(
      async () => samples.filter((s) => s.at > settled).length >= 20,
      30_000,
      'traffic after the failover window',
      100,
    );
    running = false;
    await Promise.all(loops);

    assert.equal(oldMaster, sentinel.masterPort);
    const before = samples.filter((s) => s.at < killedAt);
    const during = samples.filter((s) => s.at >= killedAt && s.at <= settled);
    const afterwards = samples.filter((s) => s.at > settled);
    const failed = (list: Sample[]): Sample[] => list.filter((s) => s.status !== 200);
    t.diagnostic(
      `failover took ${promotedAt - killedAt} ms; requests before/during/after: ${before.length}/${during.length}/${afterwards.length}; non-200 during: ${failed(during).length} ${JSON.stringify(countBy(failed(during)))}`,
    );
    assert.ok(before.length >= 20 && afterwards.length >= 20, 'the loop kept running');
    assert.deepEqual(failed(before), []);
    assert.deepEqual(failed(afterwards), [], 'no failure after the failover window');
    // The instance was still alive, so even during the window a 5xx would be the store leaking into the request path.
    assert.equal(
      failed(during).filter((s) => s.status >= 500 || s.status === 0).length,
      0,
      `failures during the failover: ${JSON.stringify(failed(during).slice(0, 5))}`,
    );

    // A gateway that starts now knows only what the promoted master holds: the instance must be there.
    late = await startGateway({ 'config.yaml': CONFIG }, { redisUrl: sentinel.url });
    const fresh = late;
    await waitFor(
      async () => (await fetch(`${fresh.url}/orders`)).status === 200,
      5000,
      'the new gateway to see the instance',
      100,
    );
  });
});
