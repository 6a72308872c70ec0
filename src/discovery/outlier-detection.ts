/** Passive outlier detection: eject an endpoint after consecutive failures, for longer each time. */
import type { ServiceConfig } from '../config/schema.js';
import type { Endpoint } from '../balancing/endpoint.js';

/** A service's parsed `outlierDetection` block. */
export type OutlierDetectionConfig = NonNullable<ServiceConfig['outlierDetection']>;

/** Longest single ejection however often an endpoint was ejected (Envoy's max_ejection_time default), unless the base is longer. */
export const MAX_EJECTION_MS = 300_000;

/** What an ejection looked like, for logs and metrics. */
export interface Ejection {
  readonly endpoint: Endpoint;
  readonly until: number;
  /** How many times this endpoint has been ejected, this one included. */
  readonly count: number;
}

/**
 * Watches one service's endpoints. The proxy calls `record(endpoint)` after each `endpoint.end(...)`;
 * once `consecutive5xx` attempts in a row failed (5xx, connect failure, reset, timeout) the endpoint is
 * ejected for baseEjectionTime x its ejection count, unless that would take more than
 * maxEjectionPercent of the service's endpoints out at once. Ejection ends by itself: `available(now)`
 * compares against `ejectedUntil`, so no timers run.
 */
export class OutlierDetector {
  private endpoints: readonly Endpoint[] = [];

  constructor(
    private readonly config: OutlierDetectionConfig,
    private readonly now: () => number = Date.now,
    private readonly onEject: (ejection: Ejection) => void = () => {},
  ) {}

  /** Sets the service's current endpoints (the denominator of maxEjectionPercent). */
  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
  }

  /** Checks an endpoint after an attempt ended; returns the ejection if this attempt caused one. */
  record(endpoint: Endpoint): Ejection | undefined {
    if (endpoint.consecutiveFailures < this.config.consecutive5xx) return undefined;
    const now = this.now();
    if (now < endpoint.ejectedUntil) return undefined;
    // A cap, not a hint: ejecting past it would leave too few endpoints for the traffic (or none at all).
    const allowed = Math.floor((this.endpoints.length * this.config.maxEjectionPercent) / 100);
    if (this.ejectedCount(now) + 1 > allowed) return undefined;
    const base = this.config.baseEjectionTime;
    // An endpoint that behaved for as long as its last ejection lasted starts over at one base time.
    if (endpoint.ejections > 0 && now - endpoint.ejectedUntil >= base * endpoint.ejections)
      endpoint.ejections = 0;
    endpoint.ejections++;
    endpoint.ejectedUntil =
      now + Math.max(base, Math.min(MAX_EJECTION_MS, base * endpoint.ejections));
    endpoint.consecutiveFailures = 0;
    const ejection: Ejection = {
      endpoint,
      until: endpoint.ejectedUntil,
      count: endpoint.ejections,
    };
    this.onEject(ejection);
    return ejection;
  }

  /** Endpoints of the service ejected right now. */
  ejectedCount(now: number = this.now()): number {
    let count = 0;
    for (const endpoint of this.endpoints) if (now < endpoint.ejectedUntil) count++;
    return count;
  }
}
