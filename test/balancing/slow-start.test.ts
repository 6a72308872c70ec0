/** Slow start: a new endpoint's share ramps up over `slowStart` instead of taking full traffic at once. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Endpoint, slowStartFactor } from '../../src/balancing/endpoint.js';
import { createBalancer } from '../../src/balancing/policies.js';
import type { Policy } from '../../src/balancing/balancer.js';
import { countPicks, makeEndpoints, pickInput, seededRandom, testClock } from './fixtures.js';

describe('slowStartFactor', () => {
  const clock = testClock(0);
  const [endpoint] = makeEndpoints(1, clock);
  const cases: Array<[number, number | undefined, number]> = [
    [0, undefined, 1],
    [0, 10_000, 0.1],
    [500, 10_000, 0.1],
    [5_000, 10_000, 0.5],
    [10_000, 10_000, 1],
    [60_000, 10_000, 1],
  ];
  for (const [age, slowStart, factor] of cases) {
    test(`is ${factor} at ${age} ms of a ${slowStart ?? 'no'} ms ramp`, () => {
      assert.equal(slowStartFactor(endpoint!, age, slowStart), factor);
    });
  }
});

for (const policy of ['weighted', 'least-request'] as Policy[]) {
  describe(`slow start with ${policy}`, () => {
    test('gives a new endpoint a small share that grows to its full share', () => {
      const clock = testClock(0);
      const [old] = makeEndpoints(1, clock);
      clock.set(100_000);
      const fresh = new Endpoint(
        { id: 'new', url: 'http://127.0.0.1:9100', weight: 1, capacity: 100, draining: false },
        { now: clock.now },
      );
      const endpoints = [old!, fresh];
      const balancer = createBalancer({ policy, slowStart: 10_000 }, { random: seededRandom(4) });
      const shareAt = (age: number): number => {
        const now = 100_000 + age;
        // One request in flight per pick and back, so least-request compares real scores.
        const picks = Array.from({ length: 1000 }, () => {
          const picked = balancer.pick(endpoints, pickInput(now));
          picked?.begin();
          return picked;
        });
        for (const endpoint of endpoints)
          while (endpoint.inFlight > 0) endpoint.end(10, 'success', now);
        return (countPicks(picks).get('new') ?? 0) / 1000;
      };
      const early = shareAt(1_000);
      const middle = shareAt(5_000);
      const late = shareAt(20_000);
      assert.ok(early < 0.15, `early share ${early}`);
      assert.ok(middle > early && middle < late, `middle share ${middle}`);
      assert.ok(Math.abs(late - 0.5) < 0.05, `late share ${late}`);
    });
  });
}
