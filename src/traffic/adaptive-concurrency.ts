/** Adaptive concurrency: a gradient limiter that sheds load when upstream latency rises above its floor. */
import type { AdaptiveConcurrencyConfig } from '../config/adaptive-concurrency-schema.js';
import { GatewayError } from '../errors.js';

/** Injected time (ms) and randomness ([0, 1)), so tests drive the limiter deterministically. */
export interface AdaptiveConcurrencyDeps {
  readonly clock?: () => number;
  readonly random?: () => number;
}

/**
 * A slot taken by tryAcquire; release it exactly once with the request's upstream latency, or with
 * undefined when the upstream was never reached (the slot is freed, no latency is sampled).
 */
export interface ConcurrencyPermit {
  release(latencyMs: number | undefined): void;
}

// minRttInterval is jittered by up to this fraction, so a fleet does not re-measure in lockstep.
const JITTER = 0.1;

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/**
 * A gradient concurrency limiter after Envoy's adaptive concurrency filter and Netflix's Gradient2.
 *
 * - **Min RTT.** It first measures the service's unloaded latency: concurrency is pinned to
 *   `minConcurrency` until `minRttSamples` requests have completed, and `minRtt` is their
 *   `percentile` latency. This re-runs every `minRttInterval` (±10% jitter) so a service whose
 *   baseline latency changed is re-learned, and only requests started inside the window count.
 * - **Gradient.** Every `sampleInterval` the `percentile` latency of the requests completed in that
 *   interval is the sample RTT, and
 *   `gradient = clamp(minRtt * (1 + buffer) / sampleRtt, 0.5, 2)`,
 *   `limit = clamp(limit * gradient + sqrt(limit * gradient), minLimit, maxLimit)`.
 *   Latency within the buffer keeps the gradient at or above 1 and the square-root headroom lets
 *   the limit grow; latency above it (queueing upstream) shrinks the limit, at most by half per
 *   interval. An interval without completed requests leaves the limit alone.
 * - **Shedding.** `tryAcquire()` refuses when in-flight requests reach the limit; the proxy then
 *   answers 503 `unavailable` with `Retry-After` (see `concurrencyShedError`). When latency falls
 *   back, the gradient rises above 1 and the limit recovers within a few intervals.
 *
 * No timers: the limiter advances when it is called, using the injected clock.
 */
export class AdaptiveConcurrencyLimiter {
  readonly #config: AdaptiveConcurrencyConfig;
  readonly #clock: () => number;
  readonly #random: () => number;
  #limit: number;
  #inflight = 0;
  #minRtt: number | undefined;
  #measuring = true;
  #epoch = 0;
  #samples: number[] = [];
  #nextSampleAt: number;
  #nextMinRttAt = Infinity;

  constructor(config: AdaptiveConcurrencyConfig, deps: AdaptiveConcurrencyDeps = {}) {
    this.#config = config;
    this.#clock = deps.clock ?? Date.now;
    this.#random = deps.random ?? Math.random;
    this.#limit = Math.min(config.maxLimit, Math.max(config.minLimit, config.initialLimit));
    this.#nextSampleAt = this.#clock() + config.sampleInterval;
  }

  /** Requests admitted right now: minConcurrency while min RTT is measured, else the gradient limit. */
  get limit(): number {
    this.#advance();
    return this.#measuring ? this.#config.minConcurrency : Math.floor(this.#limit);
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** The measured unloaded latency in ms (undefined before the first measurement). */
  get minRtt(): number | undefined {
    return this.#minRtt;
  }

  /** Takes a slot, or returns undefined when the request should be shed. */
  tryAcquire(): ConcurrencyPermit | undefined {
    if (this.#inflight >= this.limit) return undefined;
    this.#inflight += 1;
    const epoch = this.#epoch;
    let released = false;
    return {
      release: (latencyMs: number | undefined) => {
        if (released) return;
        released = true;
        this.#inflight -= 1;
        // A request begun before the current window says nothing about it.
        if (latencyMs !== undefined && epoch === this.#epoch) this.#record(latencyMs);
      },
    };
  }

  #record(latencyMs: number): void {
    this.#samples.push(latencyMs);
    if (this.#measuring && this.#samples.length >= this.#config.minRttSamples) {
      this.#minRtt = quantile(this.#samples, this.#config.percentile);
      this.#measuring = false;
      this.#startWindow();
      const now = this.#clock();
      this.#nextSampleAt = now + this.#config.sampleInterval;
      this.#nextMinRttAt =
        now + this.#config.minRttInterval * (1 + JITTER * (2 * this.#random() - 1));
    }
    this.#advance();
  }

  #advance(): void {
    if (this.#measuring) return;
    const now = this.#clock();
    if (now >= this.#nextMinRttAt) {
      this.#measuring = true;
      this.#startWindow();
      return;
    }
    if (now < this.#nextSampleAt) return;
    this.#nextSampleAt = now + this.#config.sampleInterval;
    if (this.#samples.length === 0 || this.#minRtt === undefined) return;
    const sampleRtt = Math.max(quantile(this.#samples, this.#config.percentile), Number.EPSILON);
    this.#samples = [];
    const gradient = Math.min(
      2,
      Math.max(0.5, (this.#minRtt * (1 + this.#config.buffer)) / sampleRtt),
    );
    const scaled = this.#limit * gradient;
    this.#limit = Math.min(
      this.#config.maxLimit,
      Math.max(this.#config.minLimit, scaled + Math.sqrt(scaled)),
    );
  }

  #startWindow(): void {
    this.#epoch += 1;
    this.#samples = [];
  }
}

/** The 503 a shed request gets; one sample interval is usually enough for a slot to free up. */
export function concurrencyShedError(service: string): GatewayError {
  return new GatewayError('unavailable', `service ${service} is at its concurrency limit`, [
    ['Retry-After', '1'],
  ]);
}
