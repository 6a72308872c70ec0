/** Route traffic splits: weights in percent, the route's own service taking the rest. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileSplit } from '../../src/balancing/split.js';
import { seededRandom } from './fixtures.js';

function picksOf(
  split: Array<{ service: string; weight: number }> | undefined,
  count: number,
): Map<string, number> {
  const compiled = compileSplit('orders', split);
  assert.ok(compiled.ok);
  const random = seededRandom(11);
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const service = compiled.picker.pick(random);
    counts.set(service, (counts.get(service) ?? 0) + 1);
  }
  return counts;
}

describe('compileSplit', () => {
  test('sends 10% to the split service within ±4 points over 2000 picks', () => {
    const counts = picksOf([{ service: 'orders-v2', weight: 10 }], 2000);
    const share = (counts.get('orders-v2') ?? 0) / 2000;
    assert.ok(Math.abs(share - 0.1) <= 0.04, `share ${share}`);
    assert.equal((counts.get('orders') ?? 0) + (counts.get('orders-v2') ?? 0), 2000);
  });

  test('splits three ways by percent', () => {
    const counts = picksOf(
      [
        { service: 'a', weight: 30 },
        { service: 'b', weight: 20 },
      ],
      4000,
    );
    for (const [service, share] of [
      ['a', 0.3],
      ['b', 0.2],
      ['orders', 0.5],
    ] as const) {
      assert.ok(
        Math.abs((counts.get(service) ?? 0) / 4000 - share) <= 0.04,
        `${service}: ${counts.get(service)}`,
      );
    }
  });

  const edgeCases: Array<
    [string, Array<{ service: string; weight: number }> | undefined, Record<string, number>]
  > = [
    ['no split keeps every request', undefined, { orders: 100 }],
    ['a 0% split sends nothing', [{ service: 'orders-v2', weight: 0 }], { orders: 100 }],
    [
      'a 100% split sends everything',
      [{ service: 'orders-v2', weight: 100 }],
      { 'orders-v2': 100 },
    ],
  ];
  for (const [name, split, expected] of edgeCases) {
    test(name, () => assert.deepEqual(Object.fromEntries(picksOf(split, 100)), expected));
  }

  test('lists the services the route may reach, its own first', () => {
    const compiled = compileSplit('orders', [{ service: 'orders-v2', weight: 5 }]);
    assert.ok(compiled.ok);
    assert.deepEqual(compiled.picker.services, ['orders', 'orders-v2']);
  });

  test('rejects weights over 100% with a message', () => {
    assert.deepEqual(
      compileSplit('orders', [
        { service: 'a', weight: 60 },
        { service: 'b', weight: 50 },
      ]),
      {
        ok: false,
        message: 'split weights add up to 110%, more than 100%',
      },
    );
  });
});
