/** One contract every balancing policy keeps: never an unavailable or excluded endpoint, sane on 0 and 1. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LoadBalancerConfig, Policy } from '../../src/balancing/balancer.js';
import { BALANCERS, createBalancer } from '../../src/balancing/policies.js';
import { makeEndpoints, pickInput, seededRandom, testClock } from './fixtures.js';

const configs: Record<Policy, LoadBalancerConfig> = {
  'round-robin': { policy: 'round-robin' },
  weighted: { policy: 'weighted' },
  'least-request': { policy: 'least-request' },
  'ring-hash': { policy: 'ring-hash', hashOn: 'header:x-user' },
};

for (const policy of Object.keys(BALANCERS) as Policy[]) {
  describe(`balancer contract: ${policy}`, () => {
    const clock = testClock();
    const fresh = () => createBalancer(configs[policy], { random: seededRandom(7) });
    const input = (i: number) =>
      pickInput(clock.now(), { headers: { 'x-user': `user-${i}` }, ip: `10.0.0.${i % 250}` });

    test('answers undefined for an empty set', () => {
      assert.equal(fresh().pick([], input(0)), undefined);
    });

    test('answers the only endpoint of a one-endpoint set', () => {
      const [only] = makeEndpoints(1, clock);
      const balancer = fresh();
      for (let i = 0; i < 20; i++) assert.equal(balancer.pick([only!], input(i)), only);
    });

    test('answers undefined when the only endpoint is unavailable', () => {
      const [only] = makeEndpoints(1, clock);
      only!.healthy = false;
      assert.equal(fresh().pick([only!], input(0)), undefined);
    });

    test('never picks an unhealthy, ejected, draining or excluded endpoint', () => {
      const endpoints = makeEndpoints(6, clock);
      endpoints[0]!.healthy = false;
      endpoints[1]!.ejectedUntil = clock.now() + 1000;
      endpoints[2]!.draining = true;
      const exclude = new Set([endpoints[3]!]);
      const allowed = new Set([endpoints[4], endpoints[5]]);
      const balancer = fresh();
      const seen = new Set<unknown>();
      for (let i = 0; i < 300; i++) {
        const picked = balancer.pick(endpoints, input(i), exclude);
        assert.ok(allowed.has(picked), `picked ${picked?.id}`);
        seen.add(picked);
      }
      if (policy !== 'ring-hash')
        assert.equal(seen.size, 2, 'both available endpoints get traffic');
    });

    test('answers undefined when every endpoint is unavailable or excluded', () => {
      const endpoints = makeEndpoints(3, clock);
      endpoints[0]!.healthy = false;
      endpoints[1]!.draining = true;
      assert.equal(fresh().pick(endpoints, input(1), new Set([endpoints[2]!])), undefined);
    });

    test('picks an ejected endpoint again once its ejection is over', () => {
      const endpoints = makeEndpoints(1, clock);
      endpoints[0]!.ejectedUntil = clock.now() + 1000;
      const balancer = fresh();
      assert.equal(
        balancer.pick(endpoints, pickInput(clock.now(), { headers: { 'x-user': 'a' } })),
        undefined,
      );
      assert.equal(
        balancer.pick(endpoints, pickInput(clock.now() + 1000, { headers: { 'x-user': 'a' } })),
        endpoints[0],
      );
    });

    test('follows a new endpoint set', () => {
      const endpoints = makeEndpoints(4, clock);
      const balancer = fresh();
      for (let i = 0; i < 10; i++)
        assert.ok(endpoints.slice(0, 2).includes(balancer.pick(endpoints.slice(0, 2), input(i))!));
      const later = endpoints.slice(2);
      for (let i = 0; i < 10; i++) assert.ok(later.includes(balancer.pick(later, input(i))!));
    });
  });
}
