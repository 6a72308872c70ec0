/** Per-service circuit breaker: caps concurrent upstream requests and the queue of requests waiting for one. */
import type { ServiceConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';

/** A service's parsed `circuitBreaker` block. */
export type CircuitBreakerConfig = NonNullable<ServiceConfig['circuitBreaker']>;

/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

/** The answer to `tryAcquire`: a slot now, a place in the queue, or a 503 to answer with. */
export type Admission =
  | { readonly kind: 'granted'; readonly release: Release }
  | { readonly kind: 'queued'; readonly slot: Promise<Release> }
  | { readonly kind: 'rejected'; readonly error: GatewayError };

/** Seconds a rejected client is asked to wait: slots free up as fast as upstream requests finish. */
const RETRY_AFTER_SECONDS = '1';

/** Consumed queue entries tolerated before the queue array is compacted. */
const COMPACT_AFTER = 1024;

interface Waiter {
  resolve: (release: Release) => void;
  done: boolean;
  /** Detaches the abort listener once the waiter got its slot. */
  detach: () => void;
}

/**
 * Admits at most `maxConnections` upstream requests at once and queues at most `maxPendingRequests` more
 * (FIFO); anything beyond is rejected at once with 503 `unavailable` and `Retry-After`, so overload sheds
 * load instead of piling up memory and latency (Envoy's cluster circuit breakers).
 */
export class CircuitBreaker {
  /** Upstream requests holding a slot. */
  active = 0;
  /** Requests waiting for a slot. */
  pending = 0;
  private queue: Waiter[] = [];
  private head = 0;

  constructor(private readonly limits: CircuitBreakerConfig) {}

  /**
   * Asks for a slot. Synchronous when a slot is free or the queue is full; otherwise the caller awaits
   * `slot`, which rejects with 503 if `signal` aborts first (the client left or the request timed out).
   */
  tryAcquire(signal?: AbortSignal): Admission {
    if (this.active < this.limits.maxConnections && this.pending === 0) {
      this.active++;
      return { kind: 'granted', release: this.releaser() };
    }
    if (this.pending >= this.limits.maxPendingRequests || signal?.aborted === true) {
      return {
        kind: 'rejected',
        error: overflow('too many requests are waiting for this service'),
      };
    }
    const slot = new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        if (waiter.done) return;
        waiter.done = true;
        this.pending--;
        reject(overflow('gave up waiting for a connection to this service'));
      };
      const waiter: Waiter = {
        resolve,
        done: false,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      this.queue.push(waiter);
      this.pending++;
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return { kind: 'queued', slot };
  }

  /** A release function for one slot: hands the slot to the next waiter, or frees it. */
  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.nextWaiter();
      if (next === undefined) {
        this.active--;
        return;
      }
      // The slot passes straight to the waiter, so `active` stays the same.
      next.resolve(this.releaser());
    };
  }

  /** Dequeues the oldest live waiter, skipping ones that gave up; compacts the queue as it drains. */
  private nextWaiter(): Waiter | undefined {
    while (this.head < this.queue.length) {
      const waiter = this.queue[this.head++] as Waiter;
      if (waiter.done) continue;
      waiter.done = true;
      waiter.detach();
      this.pending--;
      // Drop the consumed prefix now and then, so a queue that never empties does not grow forever.
      if (this.head >= COMPACT_AFTER && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return waiter;
    }
    this.queue = [];
    this.head = 0;
    return undefined;
  }
}

function overflow(message: string): GatewayError {
  return new GatewayError('unavailable', `circuit breaker open: ${message}`, [
    ['retry-after', RETRY_AFTER_SECONDS],
  ]);
}
