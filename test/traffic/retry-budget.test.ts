/** The retry budget: retries stay near 20% of requests over the window, with a floor for quiet services. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetryBudget } from '../../src/traffic/retry-budget.js';

function clock(start = 0) {
  let time = start;
  return { now: () => time, advance: (ms: number) => (time += ms) };
}

describe('RetryBudget', () => {
  test('stops a retry storm: every request failing gets retries for about 20% of them', () => {
    const time = clock();
    const budget = new RetryBudget(
      { ratio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000 },
      time.now,
    );
    let retries = 0;
    for (let i = 0; i < 1000; i++) {
      time.advance(5);
      budget.recordRequest();
      // Each request wants to retry twice (attempts: 2) as its upstream keeps failing.
      for (let r = 0; r < 2; r++) if (budget.tryAcquire()) retries++;
    }
    // 5 s of traffic: at most 0.2 x 1000 requests + 1/s x 10 s of window.
    assert.ok(retries <= 210, `retries ${retries}`);
    assert.ok(retries >= 190, `retries ${retries}`);
  });

  test('lets a quiet service retry thanks to the minimum', () => {
    const time = clock();
    const budget = new RetryBudget(
      { ratio: 0.2, minRetriesPerSecond: 0.5, windowMs: 10_000 },
      time.now,
    );
    budget.recordRequest();
    const granted = Array.from({ length: 7 }, () => budget.tryAcquire());
    assert.deepEqual(granted, [true, true, true, true, true, false, false]);
  });

  test('refills as old retries slide out of the window', () => {
    const time = clock();
    const budget = new RetryBudget(
      { ratio: 0, minRetriesPerSecond: 0.3, windowMs: 10_000 },
      time.now,
    );
    assert.deepEqual(
      [budget.tryAcquire(), budget.tryAcquire(), budget.tryAcquire(), budget.tryAcquire()],
      [true, true, true, false],
    );
    time.advance(5_000);
    assert.equal(budget.tryAcquire(), false, 'half a window later the retries still count');
    time.advance(5_000);
    assert.equal(budget.tryAcquire(), true, 'a full window later they have slid out');
  });

  test('grows with traffic: 100 requests allow 20 retries beyond the minimum', () => {
    const time = clock(123_456);
    const budget = new RetryBudget(
      { ratio: 0.2, minRetriesPerSecond: 0, windowMs: 1_000 },
      time.now,
    );
    for (let i = 0; i < 100; i++) budget.recordRequest();
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    assert.equal(granted, 20);
  });
});
