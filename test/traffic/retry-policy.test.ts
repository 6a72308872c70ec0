/** Retry classification: which failures are retried, idempotency and body guards, backoff, Retry-After. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import {
  backoffMs,
  compileRetryPolicy,
  decideRetry,
  NO_RETRIES,
  parseRetryAfter,
  type FailedAttempt,
  type RetryDecision,
} from '../../src/traffic/retry-policy.js';

/** The policy of `retries: {}` with defaults applied by the real schema: 2 retries, backoff 25ms. */
function policyOf(retries: Record<string, unknown>) {
  const config = configSchema.parse({ services: { s: { retries } } });
  return compileRetryPolicy(config.services.s!.retries);
}

const defaults = policyOf({});
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const half = () => 0.5;

const get: FailedAttempt = {
  method: 'GET',
  hasIdempotencyKey: false,
  retryNonIdempotent: false,
  bodyBytesSent: false,
  kind: 'status',
  status: 503,
  retriesDone: 0,
};

describe('decideRetry with the default policy', () => {
  const cases: Array<[string, Partial<FailedAttempt>, RetryDecision]> = [
    ['GET answered 503 is retried', {}, { retry: true, delayMs: 12 }],
    ['GET answered 502 is retried', { status: 502 }, { retry: true, delayMs: 12 }],
    ['GET answered 500 is not', { status: 500 }, { retry: false, reason: 'not-retryable' }],
    ['GET answered 404 is not', { status: 404 }, { retry: false, reason: 'not-retryable' }],
    ['GET reset is retried', { kind: 'reset' }, { retry: true, delayMs: 12 }],
    [
      'GET with an invalid response is retried as a reset',
      { kind: 'invalid-response' },
      { retry: true, delayMs: 12 },
    ],
    [
      'a client that went away is never retried',
      { kind: 'client-aborted' },
      { retry: false, reason: 'not-retryable' },
    ],
    [
      'a request edgeway could not send is never retried',
      { kind: 'gateway-error' },
      { retry: false, reason: 'not-retryable' },
    ],
    [
      'GET timeout is not (not in the default list)',
      { kind: 'timeout' },
      { retry: false, reason: 'not-retryable' },
    ],
    [
      'POST answered 503 is not retried by default',
      { method: 'POST' },
      { retry: false, reason: 'not-idempotent' },
    ],
    [
      'POST reset is not retried by default',
      { method: 'POST', kind: 'reset' },
      { retry: false, reason: 'not-idempotent' },
    ],
    [
      'PATCH answered 502 is not retried by default',
      { method: 'PATCH', status: 502 },
      { retry: false, reason: 'not-idempotent' },
    ],
    [
      'POST that never connected is retried',
      { method: 'POST', kind: 'connect-failure' },
      { retry: true, delayMs: 12 },
    ],
    [
      'POST with an Idempotency-Key is retried',
      { method: 'POST', hasIdempotencyKey: true },
      { retry: true, delayMs: 12 },
    ],
    [
      'POST on a route that opted in is retried',
      { method: 'POST', retryNonIdempotent: true },
      { retry: true, delayMs: 12 },
    ],
    [
      'PUT and DELETE are idempotent',
      { method: 'DELETE', kind: 'reset' },
      { retry: true, delayMs: 12 },
    ],
    [
      'a request whose body was partly sent is never retried',
      { method: 'PUT', bodyBytesSent: true, kind: 'reset' },
      { retry: false, reason: 'body-sent' },
    ],
    [
      'even with an Idempotency-Key',
      { method: 'POST', hasIdempotencyKey: true, bodyBytesSent: true },
      { retry: false, reason: 'body-sent' },
    ],
    ['the second retry backs off twice as long', { retriesDone: 1 }, { retry: true, delayMs: 25 }],
    [
      'a third retry exceeds attempts: 2',
      { retriesDone: 2 },
      { retry: false, reason: 'attempts-exhausted' },
    ],
    ['Retry-After: 1 is honoured', { retryAfter: '1' }, { retry: true, delayMs: 1000 }],
    [
      'Retry-After as an HTTP-date is honoured',
      { retryAfter: 'Thu, 01 Jan 2026 12:00:01 GMT' },
      { retry: true, delayMs: 1000 },
    ],
    [
      'Retry-After past the cap gives up',
      { retryAfter: '30' },
      { retry: false, reason: 'retry-after-too-long' },
    ],
    [
      'a Retry-After shorter than the backoff waits the backoff',
      { retryAfter: '0', retriesDone: 1 },
      { retry: true, delayMs: 25 },
    ],
    [
      'an invalid Retry-After falls back to the backoff',
      { retryAfter: 'soon' },
      { retry: true, delayMs: 12 },
    ],
  ];
  for (const [name, change, expected] of cases) {
    test(name, () =>
      assert.deepEqual(decideRetry(defaults, { ...get, ...change }, half, NOW), expected),
    );
  }
});

describe('decideRetry with a configured policy', () => {
  test('retries a timeout when `on` lists it', () => {
    const policy = policyOf({ on: ['timeout'] });
    assert.deepEqual(decideRetry(policy, { ...get, kind: 'timeout' }, half, NOW), {
      retry: true,
      delayMs: 12,
    });
    assert.deepEqual(decideRetry(policy, { ...get, kind: 'reset' }, half, NOW), {
      retry: false,
      reason: 'not-retryable',
    });
  });

  test('attempts: 0 never retries, nor does a service without a retries block', () => {
    assert.deepEqual(decideRetry(policyOf({ attempts: 0 }), get, half, NOW), {
      retry: false,
      reason: 'attempts-exhausted',
    });
    assert.equal(compileRetryPolicy(undefined), NO_RETRIES);
    assert.deepEqual(decideRetry(NO_RETRIES, get, half, NOW), {
      retry: false,
      reason: 'attempts-exhausted',
    });
  });

  test('carries perTryTimeout in milliseconds', () => {
    assert.equal(policyOf({ perTryTimeout: '2s' }).perTryTimeoutMs, 2000);
    assert.equal(defaults.perTryTimeoutMs, undefined);
  });
});

describe('backoffMs', () => {
  test('draws from [0, base x 2^n) with full jitter, capped at 10x the base', () => {
    const policy = policyOf({ backoff: '100ms', attempts: 10 });
    const cases: Array<[number, number, number]> = [
      [0, 0, 0],
      [0, 0.999, 99],
      [1, 0.5, 100],
      [3, 0.5, 400],
      [4, 0.999, 999],
      [9, 0.999, 999],
    ];
    for (const [retriesDone, draw, expected] of cases)
      assert.equal(
        backoffMs(policy, retriesDone, () => draw),
        expected,
      );
  });
});

describe('parseRetryAfter', () => {
  const cases: Array<[string, number | undefined]> = [
    ['0', 0],
    ['120', 120_000],
    [' 3 ', 3_000],
    ['Thu, 01 Jan 2026 12:00:05 GMT', 5_000],
    ['Thursday, 01-Jan-26 12:00:05 GMT', 5_000],
    ['Thu, 01 Jan 2026 11:00:00 GMT', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['tomorrow', undefined],
    ['', undefined],
  ];
  for (const [value, expected] of cases) {
    test(`reads "${value}" as ${expected}`, () =>
      assert.equal(parseRetryAfter(value, NOW), expected));
  }
});
