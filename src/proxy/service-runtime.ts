/** A service as the request path sees it: its live endpoints, balancer, pools and resilience policies. */
import type { Dispatcher } from 'undici';
import type { ServiceConfig } from '../config/schema.js';
import type { Endpoint } from '../balancing/endpoint.js';
import type { PickInput } from '../balancing/balancer.js';
import type { OutlierDetector } from '../discovery/outlier-detection.js';
import type { AdaptiveConcurrencyLimiter } from '../traffic/adaptive-concurrency.js';
import type { CircuitBreaker } from '../traffic/circuit-breaker.js';
import type { RetryBudget } from '../traffic/retry-budget.js';
import type { RetryPolicy } from '../traffic/retry-policy.js';
import type { UpstreamTls } from './upstream-tls.js';

/** The runtime of one configured service, rebuilt per snapshot; endpoint state survives reloads. */
export interface ServiceRuntime {
  readonly name: string;
  readonly config: ServiceConfig;
  /** `upstreamTls` with its PEM files read when the snapshot was built. */
  readonly tls: UpstreamTls | undefined;
  readonly retry: RetryPolicy;
  readonly budget: RetryBudget;
  readonly breaker: CircuitBreaker | undefined;
  readonly outlier: OutlierDetector | undefined;
  /** Opt-in load shedding that follows the upstream's latency. */
  readonly concurrency: AdaptiveConcurrencyLimiter | undefined;
  /** The current endpoints (registry or static config), as the balancer sees them. */
  endpoints(): readonly Endpoint[];
  /** Picks an available endpoint not in `exclude`; undefined when there is none (503). */
  pick(input: PickInput, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined;
  pool(endpoint: Endpoint): Dispatcher;
  /** Stops background work (health checks, registry subscription) when the snapshot is replaced. */
  close(): void;
}
