/** Traffic shares per policy: round-robin even, weighted by weight, least-request by capacity and latency. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Balancer } from '../../src/balancing/balancer.js';
import type { Endpoint } from '../../src/balancing/endpoint.js';
import { createBalancer } from '../../src/balancing/policies.js';
import {
  countPicks,
  makeEndpoints,
  pickInput,
  seededRandom,
  testClock,
  type TestClock,
} from './fixtures.js';

/**
 * Replays `requests` arrivals one ms apart; a request to endpoint i lasts `latencies[i]` ms and reports
 * that latency through `end`, so in-flight counts and EWMAs evolve as in a real proxy.
 */
function simulate(
  balancer: Balancer,
  endpoints: Endpoint[],
  clock: TestClock,
  latencies: number[],
  requests: number,
): Map<string, number> {
  const finishing = endpoints.map(() => [] as number[]);
  const picks: Array<Endpoint | undefined> = [];
  for (let r = 0; r < requests; r++) {
    clock.advance(1);
    endpoints.forEach((endpoint, i) => {
      const queue = finishing[i]!;
      while (queue.length > 0 && queue[0]! <= clock.now()) {
        queue.shift();
        endpoint.end(latencies[i]!, 'success', clock.now());
      }
    });
    const picked = balancer.pick(endpoints, pickInput(clock.now()));
    picks.push(picked);
    if (picked === undefined) continue;
    const i = endpoints.indexOf(picked);
    picked.begin();
    finishing[i]!.push(clock.now() + latencies[i]!);
  }
  return countPicks(picks);
}

describe('round-robin', () => {
  test('spreads 3000 picks over 3 endpoints within 10% of a third each', () => {
    const clock = testClock();
    const endpoints = makeEndpoints(3, clock);
    const balancer = createBalancer({ policy: 'round-robin' }, { random: seededRandom(1) });
    const counts = countPicks(
      Array.from({ length: 3000 }, () => balancer.pick(endpoints, pickInput(clock.now()))),
    );
    for (const id of ['e0', 'e1', 'e2'])
      assert.ok(Math.abs(counts.get(id)! - 1000) <= 100, `${id}: ${counts.get(id)}`);
  });

  test('keeps going round when one endpoint is down', () => {
    const clock = testClock();
    const endpoints = makeEndpoints(3, clock);
    endpoints[1]!.healthy = false;
    const balancer = createBalancer({ policy: 'round-robin' }, { random: seededRandom(1) });
    const counts = countPicks(
      Array.from({ length: 1000 }, () => balancer.pick(endpoints, pickInput(clock.now()))),
    );
    assert.equal(counts.get('e0'), 500);
    assert.equal(counts.get('e2'), 500);
  });
});

describe('weighted', () => {
  test('gives weights 3:1 traffic 3:1', () => {
    const clock = testClock();
    const endpoints = makeEndpoints(2, clock, { weights: [3, 1] });
    const balancer = createBalancer({ policy: 'weighted' }, { random: seededRandom(1) });
    const counts = countPicks(
      Array.from({ length: 4000 }, () => balancer.pick(endpoints, pickInput(clock.now()))),
    );
    assert.equal(counts.get('e0'), 3000);
    assert.equal(counts.get('e1'), 1000);
  });

  test('interleaves smoothly as nginx does (5:1:1 -> a a b a c a a)', () => {
    const clock = testClock();
    const endpoints = makeEndpoints(3, clock, { weights: [5, 1, 1] });
    const balancer = createBalancer({ policy: 'weighted' }, { random: seededRandom(1) });
    const sequence = Array.from(
      { length: 7 },
      () => balancer.pick(endpoints, pickInput(clock.now()))!.id,
    ).join(' ');
    assert.equal(sequence, 'e0 e0 e1 e0 e2 e0 e0');
  });

  test('gives the rest the share of an excluded endpoint', () => {
    const clock = testClock();
    const endpoints = makeEndpoints(3, clock, { weights: [2, 1, 1] });
    const balancer = createBalancer({ policy: 'weighted' }, { random: seededRandom(1) });
    const exclude = new Set([endpoints[0]!]);
    const counts = countPicks(
      Array.from({ length: 100 }, () => balancer.pick(endpoints, pickInput(clock.now()), exclude)),
    );
    assert.deepEqual([counts.get('e0'), counts.get('e1'), counts.get('e2')], [undefined, 50, 50]);
  });
});

describe('least-request', () => {
  const latencyCases = [
    {
      name: 'capacities 1:3 at equal latency get traffic 1:3 within 5%',
      capacities: [100, 300],
      latencies: [200, 200],
    },
    {
      name: 'capacities 1:3:1 at equal latency get traffic 1:3:1 within 5%',
      capacities: [100, 300, 100],
      latencies: [200, 200, 200],
    },
  ];
  for (const { name, capacities, latencies } of latencyCases) {
    test(name, () => {
      const clock = testClock();
      const endpoints = makeEndpoints(capacities.length, clock, { capacities });
      const balancer = createBalancer({ policy: 'least-request' }, { random: seededRandom(3) });
      const counts = simulate(balancer, endpoints, clock, latencies, 20_000);
      const totalCapacity = capacities.reduce((a, b) => a + b, 0);
      capacities.forEach((capacity, i) => {
        const expected = (20_000 * capacity) / totalCapacity;
        const got = counts.get(`e${i}`) ?? 0;
        assert.ok(
          Math.abs(got - expected) <= expected * 0.05,
          `e${i}: ${got}, expected ${expected}`,
        );
      });
    });
  }

  test('sends most traffic to a fast endpoint over one 5x slower', () => {
    const clock = testClock();
    const endpoints = makeEndpoints(2, clock);
    const balancer = createBalancer({ policy: 'least-request' }, { random: seededRandom(5) });
    const counts = simulate(balancer, endpoints, clock, [10, 50], 10_000);
    const fast = counts.get('e0') ?? 0;
    assert.ok(fast >= 8_000, `fast endpoint got ${fast} of 10000`);
    assert.ok((counts.get('e1') ?? 0) > 0, 'the slow endpoint still gets some traffic');
  });

  test('uses the score, not luck: an idle endpoint beats a busy one of equal capacity', () => {
    const clock = testClock();
    const endpoints = makeEndpoints(2, clock);
    for (let i = 0; i < 5; i++) endpoints[0]!.begin();
    const balancer = createBalancer({ policy: 'least-request' }, { random: seededRandom(9) });
    for (let i = 0; i < 20; i++)
      assert.equal(balancer.pick(endpoints, pickInput(clock.now())), endpoints[1]);
  });
});
