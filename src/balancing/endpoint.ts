/** One upstream instance at run time: shared by the balancer, health checks, outlier detection and the proxy. */

/**
 * How one upstream attempt ended: the one vocabulary the proxy, `Endpoint.end`, retries and telemetry
 * share. Failure names match `retries.on` where the two overlap.
 */
export type AttemptOutcome =
  /** Any response that is not a 5xx (4xx is the client's fault, not the instance's). */
  | 'success'
  /** A 5xx response from the instance. */
  | 'server-error'
  | 'connect-failure'
  | 'reset'
  | 'timeout'
  /** The instance answered with something that is not HTTP (retried as a `reset`). */
  | 'invalid-response'
  /** The client went away first: says nothing about the instance, so neither latency nor failures move. */
  | 'client-aborted'
  /** Edgeway failed before a byte reached the instance (e.g. a header value it cannot send): not the instance's fault either. */
  | 'gateway-error';

/** The outcomes of an attempt that got no response to pass on. */
export type FailureKind = Exclude<AttemptOutcome, 'success' | 'server-error'>;

/** False for outcomes that are not the instance's doing: they move neither its latency, its failure run nor its ejection. */
export function saysAboutInstance(outcome: AttemptOutcome): boolean {
  return outcome !== 'client-aborted' && outcome !== 'gateway-error';
}

/** The registry's description of an instance (an `InstanceRecord` fits). */
export interface EndpointSpec {
  readonly id: string;
  readonly url: string;
  readonly weight: number;
  readonly capacity: number;
  readonly draining: boolean;
}

/** Options of an Endpoint: the clock (ms) and how fast old latency samples lose weight. */
export interface EndpointOptions {
  readonly now?: () => number;
  /** Time constant of the latency EWMA in ms: a sample this old keeps 1/e of its weight. */
  readonly decayMs?: number;
}

/** Default EWMA time constant: 10 s, as Finagle's peak-EWMA balancer. */
export const DEFAULT_DECAY_MS = 10_000;

/** Mutable run-time state of one upstream instance; updated in place when the registry re-announces it. */
export class Endpoint {
  readonly id: string;
  /** The instance's base URL as registered. */
  readonly url: string;
  /** `scheme://host:port` for connection pools. */
  readonly origin: string;
  /** The URL's path without a trailing slash ("" for the root): prefixed to every forwarded path. */
  readonly basePath: string;
  weight: number;
  capacity: number;
  draining: boolean;
  /** When the endpoint was first seen (ms): slow start ramps from here. */
  readonly addedAt: number;
  /** Set by active health checks; true until a check says otherwise. */
  healthy = true;
  /** Outlier ejection: unavailable until this time (ms); 0 when never ejected. */
  ejectedUntil = 0;
  /** How many times outlier detection ejected the endpoint (grows its ejection time). */
  ejections = 0;
  /** Requests sent and not yet answered. */
  inFlight = 0;
  /** Time-decayed average latency in ms; 0 until the first sample. */
  ewmaLatencyMs = 0;
  /** Failed attempts in a row (5xx, connect failure, reset, timeout); a success resets it. */
  consecutiveFailures = 0;
  private lastSampleAt = 0;
  private sampled = false;
  private readonly clock: () => number;
  private readonly decayMs: number;

  constructor(spec: EndpointSpec, options: EndpointOptions = {}) {
    this.clock = options.now ?? Date.now;
    this.decayMs = options.decayMs ?? DEFAULT_DECAY_MS;
    const url = new URL(spec.url);
    this.id = spec.id;
    this.url = spec.url;
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.weight = spec.weight;
    this.capacity = spec.capacity;
    this.draining = spec.draining;
    this.addedAt = this.clock();
  }

  /** Applies a re-announcement of the same instance (same id and url): weight, capacity, draining. */
  update(spec: EndpointSpec): void {
    this.weight = spec.weight;
    this.capacity = spec.capacity;
    this.draining = spec.draining;
  }

  /** True when the endpoint may take a new request: healthy, not ejected, not draining. */
  available(now: number): boolean {
    return this.healthy && !this.draining && now >= this.ejectedUntil;
  }

  /** Marks a request as sent to this endpoint. Pair every call with one `end`. */
  begin(): void {
    this.inFlight++;
  }

  /** Marks a request as finished after `latencyMs`, feeding the latency average and the failure count. */
  end(latencyMs: number, outcome: AttemptOutcome, now: number = this.clock()): void {
    if (this.inFlight > 0) this.inFlight--;
    if (!saysAboutInstance(outcome)) return;
    this.consecutiveFailures = outcome === 'success' ? 0 : this.consecutiveFailures + 1;
    this.sample(latencyMs, now);
  }

  /** Ends a `begin` without a sample: an upgraded connection's lifetime says nothing about the instance's latency. */
  release(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  /**
   * Time-based EWMA: the old average keeps weight exp(-elapsed/decay), so the average tracks recent
   * behaviour at any request rate (a count-based EWMA would forget in seconds under load, never when idle).
   */
  private sample(latencyMs: number, now: number): void {
    const value = Math.max(0, latencyMs);
    if (!this.sampled) {
      this.ewmaLatencyMs = value;
      this.sampled = true;
    } else {
      const keep = Math.exp(-Math.max(0, now - this.lastSampleAt) / this.decayMs);
      this.ewmaLatencyMs = this.ewmaLatencyMs * keep + value * (1 - keep);
    }
    this.lastSampleAt = now;
  }
}

/** Weight multiplier in (0, 1] while an endpoint warms up: linear over `slowStartMs`, never below 10%. */
export function slowStartFactor(
  endpoint: Endpoint,
  now: number,
  slowStartMs: number | undefined,
): number {
  if (slowStartMs === undefined || slowStartMs <= 0) return 1;
  const age = now - endpoint.addedAt;
  if (age >= slowStartMs) return 1;
  // A floor keeps a brand-new endpoint reachable, so it gets the traffic that proves it works.
  return Math.max(0.1, age / slowStartMs);
}
