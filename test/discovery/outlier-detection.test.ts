/** Outlier detection: ejection after consecutive failures, growing ejection time, the ejection cap. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttemptOutcome } from '../../src/balancing/endpoint.js';
import {
  MAX_EJECTION_MS,
  OutlierDetector,
  type Ejection,
} from '../../src/discovery/outlier-detection.js';
import { makeEndpoints, testClock } from '../balancing/fixtures.js';

const config = { consecutive5xx: 3, baseEjectionTime: 10_000, maxEjectionPercent: 50 };

function setup(count = 4, overrides: Partial<typeof config> = {}) {
  const clock = testClock(0);
  const endpoints = makeEndpoints(count, clock);
  const ejections: Ejection[] = [];
  const detector = new OutlierDetector({ ...config, ...overrides }, clock.now, (ejection) =>
    ejections.push(ejection),
  );
  detector.update(endpoints);
  /** Ends one attempt on endpoint i with `outcome`, as the proxy does, and lets the detector look. */
  const attempt = (i: number, outcome: AttemptOutcome) => {
    const endpoint = endpoints[i]!;
    endpoint.begin();
    endpoint.end(5, outcome, clock.now());
    return detector.record(endpoint);
  };
  return { clock, endpoints, detector, ejections, attempt };
}

describe('OutlierDetector', () => {
  test('ejects an endpoint after consecutive5xx failures in a row, of any failure kind', () => {
    const { clock, endpoints, attempt } = setup();
    assert.equal(attempt(0, 'server-error'), undefined);
    assert.equal(attempt(0, 'connect-failure'), undefined);
    const ejection = attempt(0, 'timeout');
    assert.deepEqual(
      ejection && { id: ejection.endpoint.id, until: ejection.until, count: ejection.count },
      { id: 'e0', until: 10_000, count: 1 },
    );
    assert.equal(endpoints[0]!.available(clock.now()), false);
    assert.equal(endpoints[0]!.available(10_000), true, 'the ejection ends by itself');
  });

  test('does not eject when a success breaks the run', () => {
    const { attempt, ejections } = setup();
    const outcomes: AttemptOutcome[] = [
      'server-error',
      'server-error',
      'success',
      'server-error',
      'server-error',
      'client-aborted',
    ];
    for (const outcome of outcomes) attempt(1, outcome);
    assert.equal(ejections.length, 0);
  });

  test('ejects for baseEjectionTime x the number of ejections', () => {
    const { clock, attempt } = setup();
    const untils: number[] = [];
    for (let round = 0; round < 3; round++) {
      let ejection: Ejection | undefined;
      for (let i = 0; i < 3; i++) ejection = attempt(0, 'server-error');
      untils.push(ejection!.until - clock.now());
      clock.set(ejection!.until);
    }
    assert.deepEqual(untils, [10_000, 20_000, 30_000]);
  });

  test('starts over at one base time after behaving as long as the last ejection lasted', () => {
    const { clock, attempt } = setup();
    for (let i = 0; i < 3; i++) attempt(0, 'server-error');
    clock.set(10_000);
    for (let i = 0; i < 3; i++) attempt(0, 'server-error');
    clock.set(30_000 + 40_000);
    let ejection: Ejection | undefined;
    for (let i = 0; i < 3; i++) ejection = attempt(0, 'server-error');
    assert.equal(ejection!.count, 1);
    assert.equal(ejection!.until, 80_000);
  });

  test(`never ejects for longer than ${MAX_EJECTION_MS} ms`, () => {
    const { clock, attempt } = setup(4, { baseEjectionTime: 100_000 });
    const lengths: number[] = [];
    for (let round = 0; round < 5; round++) {
      let ejection: Ejection | undefined;
      for (let i = 0; i < 3; i++) ejection = attempt(0, 'server-error');
      lengths.push(ejection!.until - clock.now());
      clock.set(ejection!.until);
    }
    assert.deepEqual(lengths, [100_000, 200_000, 300_000, 300_000, 300_000]);
  });

  const caps: Array<[number, number, number]> = [
    [4, 50, 2],
    [5, 50, 2],
    [10, 10, 1],
    [1, 50, 0],
    [3, 100, 3],
    [4, 0, 0],
  ];
  for (const [count, percent, allowed] of caps) {
    test(`ejects at most ${allowed} of ${count} endpoints at maxEjectionPercent ${percent}`, () => {
      const { clock, endpoints, detector, attempt } = setup(count, { maxEjectionPercent: percent });
      for (let i = 0; i < count; i++) for (let n = 0; n < 3; n++) attempt(i, 'server-error');
      assert.equal(detector.ejectedCount(), allowed);
      assert.equal(
        endpoints.filter((endpoint) => !endpoint.available(clock.now())).length,
        allowed,
      );
    });
  }

  test('ejects another endpoint once an earlier ejection has ended', () => {
    const { clock, detector, attempt } = setup(2);
    for (let n = 0; n < 3; n++) attempt(0, 'server-error');
    for (let n = 0; n < 3; n++) assert.equal(attempt(1, 'server-error'), undefined);
    clock.set(10_000);
    assert.ok(attempt(1, 'server-error'), 'the failure run carried on and now ejects');
    assert.equal(detector.ejectedCount(), 1);
  });
});
