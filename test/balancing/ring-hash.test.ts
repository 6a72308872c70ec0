/** Ring-hash: the same key lands on the same endpoint, keys spread, and a leave moves only its own keys. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Endpoint } from '../../src/balancing/endpoint.js';
import { createBalancer } from '../../src/balancing/policies.js';
import { parseHashOn } from '../../src/config/hash-on.js';
import { makeEndpoints, pickInput, seededRandom, testClock } from './fixtures.js';

const KEYS = Array.from({ length: 5000 }, (_, i) => `user-${i}`);

describe('ring-hash', () => {
  const clock = testClock();
  const byHeader = (key: string) => pickInput(clock.now(), { headers: { 'x-user': key } });

  test('sends the same key to the same endpoint every time', () => {
    const endpoints = makeEndpoints(5, clock);
    const balancer = createBalancer(
      { policy: 'ring-hash', hashOn: 'header:X-User' },
      { random: seededRandom(1) },
    );
    for (const key of KEYS.slice(0, 200)) {
      const first = balancer.pick(endpoints, byHeader(key));
      for (let i = 0; i < 3; i++) assert.equal(balancer.pick(endpoints, byHeader(key)), first);
    }
  });

  test('spreads 5000 keys over 5 endpoints within 25% of a fifth each', () => {
    const endpoints = makeEndpoints(5, clock);
    const balancer = createBalancer(
      { policy: 'ring-hash', hashOn: 'header:x-user' },
      { random: seededRandom(1) },
    );
    const counts = new Map<string, number>();
    for (const key of KEYS) {
      const id = balancer.pick(endpoints, byHeader(key))!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const endpoint of endpoints) {
      const count = counts.get(endpoint.id) ?? 0;
      assert.ok(Math.abs(count - 1000) <= 250, `${endpoint.id}: ${count}`);
    }
  });

  test('moves only the leaving endpoint’s keys (about a fifth) when one of 5 leaves', () => {
    const endpoints = makeEndpoints(5, clock);
    const balancer = createBalancer(
      { policy: 'ring-hash', hashOn: 'header:x-user' },
      { random: seededRandom(1) },
    );
    const before = new Map<string, Endpoint>(
      KEYS.map((key) => [key, balancer.pick(endpoints, byHeader(key))!]),
    );
    const remaining = endpoints.filter((endpoint) => endpoint.id !== 'e2');
    let moved = 0;
    for (const key of KEYS) {
      const after = balancer.pick(remaining, byHeader(key))!;
      if (after !== before.get(key)) {
        moved++;
        assert.equal(before.get(key)!.id, 'e2', `${key} moved off a staying endpoint`);
      }
    }
    assert.ok(
      moved > KEYS.length * 0.12 && moved < KEYS.length * 0.28,
      `moved ${moved} of ${KEYS.length}`,
    );
  });

  test('moves only keys to a joining endpoint, about a sixth when a sixth joins', () => {
    const endpoints = makeEndpoints(6, clock);
    const balancer = createBalancer(
      { policy: 'ring-hash', hashOn: 'header:x-user' },
      { random: seededRandom(1) },
    );
    const five = endpoints.slice(0, 5);
    const before = new Map<string, Endpoint>(
      KEYS.map((key) => [key, balancer.pick(five, byHeader(key))!]),
    );
    let moved = 0;
    for (const key of KEYS) {
      const after = balancer.pick(endpoints, byHeader(key))!;
      if (after === before.get(key)) continue;
      moved++;
      assert.equal(after.id, 'e5');
    }
    assert.ok(moved > KEYS.length * 0.1 && moved < KEYS.length * 0.25, `moved ${moved}`);
  });

  test('sends the keys of an unhealthy endpoint elsewhere and back once it recovers', () => {
    const endpoints = makeEndpoints(5, clock);
    const balancer = createBalancer(
      { policy: 'ring-hash', hashOn: 'header:x-user' },
      { random: seededRandom(1) },
    );
    const key = KEYS.find((k) => balancer.pick(endpoints, byHeader(k))!.id === 'e3')!;
    endpoints[3]!.healthy = false;
    assert.notEqual(balancer.pick(endpoints, byHeader(key))!.id, 'e3');
    endpoints[3]!.healthy = true;
    assert.equal(balancer.pick(endpoints, byHeader(key))!.id, 'e3');
  });

  const sources = [
    { hashOn: 'ip', sticky: { ip: '192.0.2.7' } },
    { hashOn: 'cookie:session', sticky: { cookies: { session: 'abc' } } },
    { hashOn: 'header:x-tenant', sticky: { headers: { 'x-tenant': 'acme' } } },
  ];
  for (const { hashOn, sticky } of sources) {
    test(`hashes on ${hashOn}`, () => {
      const endpoints = makeEndpoints(8, clock);
      const balancer = createBalancer({ policy: 'ring-hash', hashOn }, { random: seededRandom(2) });
      const first = balancer.pick(endpoints, pickInput(clock.now(), sticky));
      for (let i = 0; i < 20; i++)
        assert.equal(balancer.pick(endpoints, pickInput(clock.now(), sticky)), first);
    });
  }

  test('spreads requests without the key at random', () => {
    const endpoints = makeEndpoints(4, clock);
    const balancer = createBalancer(
      { policy: 'ring-hash', hashOn: 'header:x-user' },
      { random: seededRandom(2) },
    );
    const seen = new Set(
      Array.from({ length: 100 }, () => balancer.pick(endpoints, pickInput(clock.now()))),
    );
    assert.equal(seen.size, 4);
  });
});

describe('parseHashOn', () => {
  const cases: Array<[string | undefined, unknown]> = [
    [undefined, { kind: 'ip' }],
    ['ip', { kind: 'ip' }],
    ['header:X-User', { kind: 'header', name: 'x-user' }],
    ['cookie:Session', { kind: 'cookie', name: 'Session' }],
  ];
  for (const [text, expected] of cases) {
    test(`reads ${text}`, () =>
      assert.deepEqual(parseHashOn(text), { ok: true, hashOn: expected }));
  }
  for (const text of ['header:', 'cookie', 'query:x', 'header:a b', 'IP']) {
    test(`rejects "${text}" with a message`, () => {
      assert.deepEqual(parseHashOn(text), {
        ok: false,
        message: `hashOn "${text}" must be ip, header:NAME or cookie:NAME`,
      });
    });
  }
});
