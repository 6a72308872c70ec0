/** Active health checks against real HTTP servers on 127.0.0.1. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { Endpoint } from '../../src/balancing/endpoint.js';
import { HealthChecker } from '../../src/discovery/health-check.js';
import { waitFor } from '../helpers/wait-for.js';
import { serviceYaml, startGateway } from '../helpers/gateway.js';

/** A server whose /healthz answers the status `respond()` gives; counts probes and their concurrency. */
async function healthServer(respond: () => number | 'hang') {
  const stats = { probes: 0, inFlight: 0, peak: 0, paths: new Set<string>() };
  const server: Server = createServer((req, res) => {
    stats.probes++;
    stats.inFlight++;
    stats.peak = Math.max(stats.peak, stats.inFlight);
    stats.paths.add(req.url ?? '');
    res.on('close', () => stats.inFlight--);
    const status = respond();
    if (status === 'hang') return;
    res.writeHead(status).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    stats,
    url: `http://127.0.0.1:${port}/base`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function endpointAt(url: string, id = 'a'): Endpoint {
  return new Endpoint({ id, url, weight: 1, capacity: 10, draining: false });
}

const fast = {
  type: 'http' as const,
  path: '/healthz',
  interval: 30,
  timeout: 200,
  unhealthyThreshold: 2,
  healthyThreshold: 3,
};

describe('HealthChecker', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test('marks an endpoint down after unhealthyThreshold failures and up after healthyThreshold passes', async () => {
    let answer = 500;
    const server = await healthServer(() => answer);
    cleanups.push(server.close);
    const endpoint = endpointAt(server.url);
    const changes: Array<[string, boolean, number]> = [];
    const checker = new HealthChecker(fast, {
      onChange: (e, healthy) => changes.push([e.id, healthy, server.stats.probes]),
    });
    cleanups.push(() => checker.stop());
    checker.start([endpoint]);
    await waitFor(() => !endpoint.healthy, 5000, 'the health state');
    assert.deepEqual(changes, [['a', false, 2]], 'down after exactly 2 failed probes');
    answer = 200;
    const probesAtRecovery = server.stats.probes;
    await waitFor(() => endpoint.healthy, 5000, 'the health state');
    assert.equal(changes.length, 2);
    assert.equal(changes[1]![2] - probesAtRecovery, 3, 'up after exactly 3 passing probes');
    assert.deepEqual([...server.stats.paths], ['/healthz'], 'probes the origin, not the base path');
    checker.stop();
  });

  test('counts a probe that outlives its timeout as a failure, one probe in flight at a time', async () => {
    const server = await healthServer(() => 'hang');
    cleanups.push(server.close);
    const endpoint = endpointAt(server.url);
    const checker = new HealthChecker({ ...fast, timeout: 50, unhealthyThreshold: 3 });
    cleanups.push(() => checker.stop());
    checker.start([endpoint]);
    await waitFor(() => !endpoint.healthy, 5000, 'the health state');
    assert.ok(server.stats.probes >= 3);
    assert.equal(server.stats.peak, 1);
    checker.stop();
  });

  test('counts a refused connection as a failure', async () => {
    const server = await healthServer(() => 200);
    const url = server.url;
    await server.close();
    const endpoint = endpointAt(url);
    const checker = new HealthChecker(fast);
    cleanups.push(() => checker.stop());
    checker.start([endpoint]);
    await waitFor(() => !endpoint.healthy, 5000, 'the health state');
    checker.stop();
  });

  test('follows update(): probes new endpoints and stops probing removed ones; stop() ends all probing', async () => {
    const first = await healthServer(() => 200);
    const second = await healthServer(() => 200);
    cleanups.push(first.close, second.close);
    const a = endpointAt(first.url, 'a');
    const b = endpointAt(second.url, 'b');
    const checker = new HealthChecker(fast);
    cleanups.push(() => checker.stop());
    checker.start([a]);
    await waitFor(() => first.stats.probes >= 2, 5000, 'the health state');
    assert.equal(second.stats.probes, 0);
    checker.update([b]);
    await waitFor(() => second.stats.probes >= 2, 5000, 'the health state');
    const firstAfterRemoval = first.stats.probes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(first.stats.probes, firstAfterRemoval, 'a removed endpoint is no longer probed');
    checker.stop();
    const secondAtStop = second.stats.probes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    // A probe already on the wire at stop() may still arrive; nothing after it.
    assert.ok(second.stats.probes <= secondAtStop + 1, 'stop() ends probing');
  });
});

/** A /healthz that answers 200 only after `delayMs`; counts probes and the most ever in flight at once. */
async function slowHealthServer(delayMs: number) {
  const stats = { probes: 0, inFlight: 0, peak: 0 };
  const server: Server = createServer((_req, res) => {
    stats.probes++;
    stats.peak = Math.max(stats.peak, ++stats.inFlight);
    res.on('close', () => stats.inFlight--);
    setTimeout(() => res.writeHead(200).end('ok'), delayMs).unref();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { stats, url: `http://127.0.0.1:${port}`, close };
}

describe('a health check whose timeout is longer than its interval', () => {
  test("a second checker of the same endpoint (a reload's new snapshot) waits for the first one's probe", async () => {
    const server = await slowHealthServer(80);
    const endpoint = endpointAt(server.url);
    const config = {
      type: 'http' as const,
      path: '/healthz',
      interval: 5,
      timeout: 2000,
      unhealthyThreshold: 1,
      healthyThreshold: 1,
    };
    const old = new HealthChecker(config);
    const next = new HealthChecker(config);
    try {
      old.start([endpoint]);
      await waitFor(() => server.stats.inFlight === 1, 5000, 'the first probe on the wire');
      next.start([endpoint]);
      await waitFor(() => server.stats.probes >= 6, 5000, 'six probes from both checkers');
      assert.equal(server.stats.peak, 1, 'never two probes of one instance at once');
      old.stop();
      const seen = server.stats.probes;
      await waitFor(() => server.stats.probes >= seen + 2, 5000, 'the new checker probing alone');
      assert.equal(server.stats.peak, 1);
    } finally {
      old.stop();
      next.stop();
      await server.close();
    }
  });

  test('is accepted by the config and probes a slow instance one probe at a time, through reloads', async () => {
    const server = await slowHealthServer(80);
    const yaml = serviceYaml(
      'svc',
      [server.url],
      '    healthCheck: { path: /healthz, interval: 10ms, timeout: 2s, unhealthyThreshold: 1 }\n',
    );
    const gw = await startGateway({
      'services.yaml': yaml,
      'routes.yaml': 'routes:\n  - { name: a, service: svc }\n',
    });
    try {
      await waitFor(() => server.stats.probes >= 3, 5000, 'three probes');
      for (let i = 0; i < 3; i++) {
        const reload = await gw.gateway.reload();
        assert.equal(reload.ok, true);
        const seen = server.stats.probes;
        await waitFor(
          () => server.stats.probes >= seen + 2,
          5000,
          'two more probes after the reload',
        );
      }
      assert.equal(server.stats.peak, 1, 'never two probes of one instance at once');
      assert.equal(
        gw.gateway.current().services.get('svc')?.endpoints()[0]?.healthy,
        true,
        'a slow probe within its timeout passes',
      );
    } finally {
      await gw.stop();
      await server.close();
    }
  });
});
