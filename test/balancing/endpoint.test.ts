/** Endpoint state: URL parts, availability, in-flight counting, the time-decayed latency average, sync. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Endpoint } from '../../src/balancing/endpoint.js';
import { syncEndpoints } from '../../src/balancing/endpoint-set.js';
import { parseCookies, requestPickInput } from '../../src/balancing/pick-input.js';
import { testClock } from './fixtures.js';

const spec = {
  id: 'a',
  url: 'https://api.internal:8443/v1/',
  weight: 2,
  capacity: 50,
  draining: false,
};

describe('Endpoint', () => {
  test('splits its URL into origin and base path', () => {
    const endpoint = new Endpoint(spec);
    assert.equal(endpoint.origin, 'https://api.internal:8443');
    assert.equal(endpoint.basePath, '/v1');
    assert.equal(new Endpoint({ ...spec, url: 'http://127.0.0.1:9001' }).basePath, '');
  });

  const availability: Array<[string, Partial<Endpoint>, boolean]> = [
    ['a fresh endpoint', {}, true],
    ['an unhealthy endpoint', { healthy: false }, false],
    ['a draining endpoint', { draining: true }, false],
    ['an ejected endpoint', { ejectedUntil: 2_000 }, false],
    ['an endpoint whose ejection ended', { ejectedUntil: 1_000 }, true],
  ];
  for (const [name, state, available] of availability) {
    test(`${name} is ${available ? '' : 'not '}available`, () => {
      const endpoint = Object.assign(new Endpoint(spec), state);
      assert.equal(endpoint.available(1_000), available);
    });
  }

  test('counts requests in flight', () => {
    const endpoint = new Endpoint(spec);
    endpoint.begin();
    endpoint.begin();
    endpoint.end(5, 'success');
    assert.equal(endpoint.inFlight, 1);
    endpoint.end(5, 'client-aborted');
    endpoint.end(5, 'client-aborted');
    assert.equal(endpoint.inFlight, 0);
  });

  test('averages latency with time decay: old samples fade by exp(-elapsed / decay)', () => {
    const clock = testClock(0);
    const endpoint = new Endpoint(spec, { now: clock.now, decayMs: 1_000 });
    endpoint.end(100, 'success', 0);
    assert.equal(endpoint.ewmaLatencyMs, 100);
    endpoint.end(200, 'success', 1_000);
    assert.ok(Math.abs(endpoint.ewmaLatencyMs - (100 / Math.E + 200 * (1 - 1 / Math.E))) < 1e-9);
    endpoint.end(10, 'success', 11_000);
    assert.ok(
      endpoint.ewmaLatencyMs < 11,
      'a sample after a long quiet spell replaces the average',
    );
    endpoint.end(10_000, 'client-aborted', 11_001);
    assert.ok(endpoint.ewmaLatencyMs < 11, 'a cancelled request says nothing about latency');
  });

  test('counts failures in a row until a success', () => {
    const endpoint = new Endpoint(spec);
    for (const outcome of ['server-error', 'connect-failure', 'reset', 'timeout'] as const)
      endpoint.end(1, outcome);
    assert.equal(endpoint.consecutiveFailures, 4);
    endpoint.end(1, 'client-aborted');
    endpoint.end(1, 'gateway-error');
    assert.equal(
      endpoint.consecutiveFailures,
      4,
      "neither the client leaving nor edgeway failing is the instance's fault",
    );
    endpoint.end(1, 'success');
    assert.equal(endpoint.consecutiveFailures, 0);
  });
});

describe('syncEndpoints', () => {
  test('keeps Endpoint objects (and their state) across re-announcements, updating them in place', () => {
    const first = syncEndpoints([], [spec, { ...spec, id: 'b', url: 'http://b:1' }]);
    first[0]!.begin();
    const second = syncEndpoints(first, [
      { ...spec, weight: 5, draining: true },
      { ...spec, id: 'b', url: 'http://b:1' },
    ]);
    assert.equal(second, first, 'same membership keeps the same array');
    assert.equal(first[0]!.weight, 5);
    assert.equal(first[0]!.draining, true);
    assert.equal(first[0]!.inFlight, 1);
  });

  test('returns a new array when an instance comes, goes or changes url', () => {
    const first = syncEndpoints([], [spec]);
    const grown = syncEndpoints(first, [spec, { ...spec, id: 'b', url: 'http://b:1' }]);
    assert.notEqual(grown, first);
    assert.equal(grown[0], first[0]);
    const moved = syncEndpoints(grown, [{ ...spec, url: 'http://elsewhere:1' }]);
    assert.notEqual(moved[0], first[0]);
    assert.equal(moved.length, 1);
  });
});

describe('requestPickInput', () => {
  test('reads headers and cookies of a Node request', () => {
    const input = requestPickInput(
      { 'x-user': 'u1', cookie: 'a=1; session="s 2"; a=3', 'x-list': ['p', 'q'] } as never,
      '10.0.0.1',
      5,
    );
    assert.equal(input.header('x-user'), 'u1');
    assert.equal(input.header('x-list'), 'p, q');
    assert.equal(input.cookie('session'), 's 2');
    assert.equal(input.cookie('a'), '1');
    assert.equal(input.cookie('missing'), undefined);
    assert.equal(input.clientIp, '10.0.0.1');
  });

  test('parses an absent or odd cookie header to what it can', () => {
    assert.equal(parseCookies(undefined).size, 0);
    assert.deepEqual([...parseCookies('novalue; =x; k=v')], [['k', 'v']]);
  });
});
