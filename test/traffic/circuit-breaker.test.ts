/** The circuit breaker: a cap on concurrent upstream requests and on requests waiting for one. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GatewayError } from '../../src/errors.js';
import { CircuitBreaker, type Admission, type Release } from '../../src/traffic/circuit-breaker.js';

function granted(admission: Admission): Release {
  assert.equal(admission.kind, 'granted');
  return (admission as Extract<Admission, { kind: 'granted' }>).release;
}

function queued(admission: Admission): Promise<Release> {
  assert.equal(admission.kind, 'queued');
  return (admission as Extract<Admission, { kind: 'queued' }>).slot;
}

function rejected(admission: Admission): GatewayError {
  assert.equal(admission.kind, 'rejected');
  return (admission as Extract<Admission, { kind: 'rejected' }>).error;
}

describe('CircuitBreaker', () => {
  test('grants up to maxConnections at once, queues up to maxPendingRequests, rejects the rest with 503', () => {
    const breaker = new CircuitBreaker({ maxConnections: 2, maxPendingRequests: 1 });
    granted(breaker.tryAcquire());
    granted(breaker.tryAcquire());
    queued(breaker.tryAcquire()).catch(() => {});
    const error = rejected(breaker.tryAcquire());
    assert.equal(error.code, 'unavailable');
    assert.equal(error.status, 503);
    assert.deepEqual(error.headers, [['retry-after', '1']]);
    assert.deepEqual([breaker.active, breaker.pending], [2, 1]);
  });

  test('hands a released slot to the oldest waiter, in order', async () => {
    const breaker = new CircuitBreaker({ maxConnections: 1, maxPendingRequests: 5 });
    const first = granted(breaker.tryAcquire());
    const order: string[] = [];
    const a = queued(breaker.tryAcquire()).then((release) => (order.push('a'), release));
    const b = queued(breaker.tryAcquire()).then((release) => (order.push('b'), release));
    first();
    const releaseA = await a;
    assert.deepEqual([order, breaker.active, breaker.pending], [['a'], 1, 1]);
    releaseA();
    (await b)();
    assert.deepEqual([order, breaker.active, breaker.pending], [['a', 'b'], 0, 0]);
    granted(breaker.tryAcquire());
  });

  test('ignores a second call of the same release', () => {
    const breaker = new CircuitBreaker({ maxConnections: 2, maxPendingRequests: 1 });
    const release = granted(breaker.tryAcquire());
    granted(breaker.tryAcquire());
    release();
    release();
    assert.equal(breaker.active, 1);
  });

  test('rejects a waiter whose signal aborts, freeing its place in the queue', async () => {
    const breaker = new CircuitBreaker({ maxConnections: 1, maxPendingRequests: 1 });
    const held = granted(breaker.tryAcquire());
    const controller = new AbortController();
    const waiting = queued(breaker.tryAcquire(controller.signal));
    controller.abort();
    await assert.rejects(
      waiting,
      (err: unknown) => err instanceof GatewayError && err.code === 'unavailable',
    );
    assert.equal(breaker.pending, 0);
    const next = queued(breaker.tryAcquire());
    held();
    (await next)();
    assert.deepEqual([breaker.active, breaker.pending], [0, 0]);
  });

  test('rejects at once when the signal has already aborted', () => {
    const breaker = new CircuitBreaker({ maxConnections: 1, maxPendingRequests: 1 });
    granted(breaker.tryAcquire());
    rejected(breaker.tryAcquire(AbortSignal.abort()));
  });

  test('keeps its counts right through many rounds of contention', async () => {
    const breaker = new CircuitBreaker({ maxConnections: 3, maxPendingRequests: 2000 });
    let running = 0;
    let peak = 0;
    const work = Array.from({ length: 1500 }, async () => {
      const admission = breaker.tryAcquire();
      const release = admission.kind === 'granted' ? admission.release : await queued(admission);
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => setImmediate(resolve));
      running--;
      release();
    });
    await Promise.all(work);
    assert.equal(peak, 3);
    assert.deepEqual([breaker.active, breaker.pending], [0, 0]);
  });
});
