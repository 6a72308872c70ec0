/** Builds a service's runtime from its config and the registry: endpoints, balancer, health and resilience. */
import type { ServiceConfig } from '../config/schema.js';
import type { Endpoint } from '../balancing/endpoint.js';
import { syncEndpoints } from '../balancing/endpoint-set.js';
import { createBalancer } from '../balancing/policies.js';
import { HealthChecker } from '../discovery/health-check.js';
import { staticInstances } from '../discovery/instance.js';
import { OutlierDetector } from '../discovery/outlier-detection.js';
import type { Registry } from '../discovery/registry.js';
import type { UpstreamPools } from '../proxy/upstream-client.js';
import { loadUpstreamTls } from '../proxy/upstream-tls.js';
import { AdaptiveConcurrencyLimiter } from '../traffic/adaptive-concurrency.js';
import { CircuitBreaker } from '../traffic/circuit-breaker.js';
import { RetryBudget } from '../traffic/retry-budget.js';
import { compileRetryPolicy } from '../traffic/retry-policy.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';

/** Long-lived state shared by every snapshot's runtime of a service. */
export interface ServiceDeps {
  readonly pools: UpstreamPools;
  readonly registry: Registry;
  /** Endpoints by service name, so balancing and health state survive a reload. */
  readonly endpoints: Map<string, readonly Endpoint[]>;
  /** Adaptive concurrency limiters by service and settings, so a reload keeps what they learned. */
  readonly concurrencyLimiters: Map<string, AdaptiveConcurrencyLimiter>;
  readonly onHealthChange?: (service: string, endpoint: Endpoint, healthy: boolean) => void;
}

/** Builds the runtime of service `name`; its endpoints follow the registry (or static config) live. */
export function buildService(
  name: string,
  config: ServiceConfig,
  deps: ServiceDeps,
): ServiceRuntime {
  const fixed = config.discovery === 'static' ? staticInstances(name, config.instances) : undefined;
  const balancer = createBalancer(config.loadBalancer, { random: Math.random });
  const tls = config.upstreamTls === undefined ? undefined : loadUpstreamTls(config.upstreamTls);
  const pools = deps.pools.forSettings({
    connectTimeoutMs: config.timeouts.connect,
    maxConnections: config.circuitBreaker?.maxConnections ?? 1024,
    tls,
    protocol: config.protocol,
  });
  const outlier = config.outlierDetection
    ? new OutlierDetector(config.outlierDetection)
    : undefined;
  const health = config.healthCheck
    ? new HealthChecker(config.healthCheck, {
        onChange: (endpoint, healthy) => deps.onHealthChange?.(name, endpoint, healthy),
        ...(tls !== undefined ? { tls: tls.connect } : {}),
      })
    : undefined;

  let concurrency: AdaptiveConcurrencyLimiter | undefined;
  if (config.adaptiveConcurrency) {
    const key = `${name}|${JSON.stringify(config.adaptiveConcurrency)}`;
    concurrency =
      deps.concurrencyLimiters.get(key) ??
      new AdaptiveConcurrencyLimiter(config.adaptiveConcurrency);
    deps.concurrencyLimiters.set(key, concurrency);
  }

  let endpoints: readonly Endpoint[] = [];
  const refresh = (): void => {
    endpoints = syncEndpoints(deps.endpoints.get(name) ?? [], fixed ?? deps.registry.list(name));
    deps.endpoints.set(name, endpoints);
    pools.use(endpoints.map((endpoint) => endpoint.origin));
    outlier?.update(endpoints);
    health?.update(endpoints);
  };
  refresh();
  health?.start(endpoints);
  const unsubscribe = fixed
    ? () => undefined
    : deps.registry.onChange((service) => service === name && refresh());

  return {
    name,
    config,
    tls,
    retry: compileRetryPolicy(config.retries),
    budget: new RetryBudget(),
    breaker: config.circuitBreaker ? new CircuitBreaker(config.circuitBreaker) : undefined,
    outlier,
    concurrency,
    endpoints: () => endpoints,
    pick: (input, exclude) => balancer.pick(endpoints, input, exclude),
    pool: (endpoint) => pools.dispatcher(endpoint.origin),
    close() {
      unsubscribe();
      health?.stop();
      pools.release();
    },
  };
}
