/** The dashboard's instance rows: one state word per instance, worst first, from the live endpoint objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Endpoint } from '../../src/balancing/endpoint.js';
import { configSchema } from '../../src/config/schema.js';
import type { ServiceRuntime } from '../../src/proxy/service-runtime.js';
import { serviceRows } from '../../src/admin/dashboard/instances-view.js';
import { StatsCollector } from '../../src/telemetry/history/stats.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);

/** A service runtime exposing what the rows read: its config and endpoints. */
function runtime(
  name: string,
  service: Record<string, unknown>,
  endpoints: Endpoint[],
): ServiceRuntime {
  const config = configSchema.parse({ services: { [name]: service } }).services[name];
  return { name, config, endpoints: () => endpoints } as unknown as ServiceRuntime;
}

function endpoint(
  id: string,
  change: (e: Endpoint) => void = () => undefined,
  addedAt = NOW - 3_600_000,
): Endpoint {
  const e = new Endpoint(
    { id, url: `http://10.0.0.1:80/${id}`, weight: 1, capacity: 10, draining: false },
    { now: () => addedAt },
  );
  change(e);
  return e;
}

const cases: Array<[string, Record<string, unknown>, Endpoint, string, string]> = [
  ['a healthy instance without active checks', {}, endpoint('a'), 'up', 'unchecked'],
  [
    'an instance the active check failed',
    { healthCheck: { path: '/health' } },
    endpoint('b', (e) => {
      e.healthy = false;
    }),
    'unhealthy',
    'unhealthy',
  ],
  [
    'an instance outlier detection ejected',
    { outlierDetection: {} },
    endpoint('c', (e) => {
      e.ejectedUntil = NOW + 30_000;
      e.ejections = 2;
    }),
    'ejected',
    'unchecked',
  ],
  [
    'an instance once ejected, now back',
    { outlierDetection: {} },
    endpoint('d', (e) => {
      e.ejectedUntil = NOW - 1;
      e.ejections = 1;
    }),
    'up',
    'unchecked',
  ],
  [
    'a draining instance',
    {},
    endpoint('e', (e) => {
      e.draining = true;
    }),
    'draining',
    'unchecked',
  ],
  [
    'an instance warming up',
    { loadBalancer: { slowStart: '60s' } },
    endpoint('f', () => undefined, NOW - 30_000),
    'slow-start',
    'unchecked',
  ],
  [
    'unhealthy beats ejected beats draining',
    { healthCheck: { path: '/health' } },
    endpoint('g', (e) => {
      e.healthy = false;
      e.ejectedUntil = NOW + 1;
      e.draining = true;
    }),
    'unhealthy',
    'unhealthy',
  ],
];

for (const [name, service, e, state, active] of cases) {
  test(`${name}: ${state}, active check ${active}`, () => {
    const [row] = serviceRows(
      new Map([['svc', runtime('svc', service, [e])]]),
      new Map(),
      new StatsCollector({ now: () => NOW }),
      NOW,
    );
    assert.equal(row?.instances[0]?.state, state);
    assert.equal(row?.instances[0]?.active, active);
  });
}

test('attempt counts over the range come from the fleet hash, by outcome', () => {
  const counts = new Map([['svc', new Map([['a', { ok: 3, connect_error: 291 }]])]]);
  const [row] = serviceRows(
    new Map([['svc', runtime('svc', {}, [endpoint('a')])]]),
    counts,
    new StatsCollector({ now: () => NOW }),
    NOW,
  );
  assert.deepEqual(row?.instances[0]?.attempts, {
    ok: 3,
    status_5xx: 0,
    connect_error: 291,
    timeout: 0,
    invalid_response: 0,
    aborted: 0,
    gateway_error: 0,
  });
  assert.equal(row?.instances[0]?.slowStart, 1);
});
