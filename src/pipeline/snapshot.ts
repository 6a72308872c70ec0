/** A config compiled into the runtime objects the request path reads: routes, stages, services. */
import type { Config } from '../config/schema.js';
import type { UpstreamPools } from '../proxy/upstream-client.js';
import type { ForwardPlan } from '../proxy/forward.js';
import { buildStaticService } from './build-service.js';
import { TrustedProxies } from './client-ip.js';
import type { Stage } from './context.js';
import { compileMatch, RouteTable, type CompiledRoute } from './route-table.js';
import type { ServiceRuntime } from './service-runtime.js';
import { buildStages, type StageDeps } from './stages.js';

/** A route with everything the request path needs, resolved at load. */
export interface RuntimeRoute extends CompiledRoute {
  readonly service: ServiceRuntime;
  readonly stages: readonly Stage[];
  readonly plan: ForwardPlan;
}

/** Long-lived objects shared by successive snapshots, so a reload keeps pools, buckets and caches. */
export interface SnapshotDeps extends StageDeps {
  readonly pools: UpstreamPools;
  /** Builds a service runtime; defaults to static instances. */
  readonly buildService?: (name: string, config: Config['services'][string]) => ServiceRuntime;
}

/** The live, immutable view of one config. */
export interface Snapshot {
  readonly config: Config;
  readonly files: readonly string[];
  readonly table: RouteTable<RuntimeRoute>;
  readonly services: ReadonlyMap<string, ServiceRuntime>;
  readonly trustedProxies: TrustedProxies;
  readonly loadedAt: number;
}

function forwardPlan(config: Config, route: Config['routes'][number]): ForwardPlan {
  const service = config.services[route.service];
  if (service === undefined) throw new Error(`unknown service ${route.service}`);
  const retries = service.retries;
  return {
    requestTimeoutMs: route.timeouts?.request ?? service.timeouts.request,
    maxBodyBytes: config.gateway.maxBodyBytes,
    retries: retries?.attempts ?? 0,
    retryOn: new Set(retries?.on ?? []),
    backoffMs: retries?.backoff ?? 0,
    perTryTimeoutMs: retries?.perTryTimeout,
  };
}

/** Compiles a validated config; throws only on programming errors (config problems were caught by loadConfig). */
export function buildSnapshot(config: Config, files: readonly string[], deps: SnapshotDeps): Snapshot {
  const services = new Map<string, ServiceRuntime>();
  for (const [name, serviceConfig] of Object.entries(config.services)) {
    services.set(name, deps.buildService ? deps.buildService(name, serviceConfig) : buildStaticService(name, serviceConfig, deps.pools));
  }
  const routes = config.routes.map((route, index): RuntimeRoute => {
    const compiled: CompiledRoute = { name: route.name, index, config: route, match: compileMatch(route) };
    return {
      ...compiled,
      service: services.get(route.service) as ServiceRuntime,
      stages: buildStages(compiled, config, deps),
      plan: forwardPlan(config, route),
    };
  });
  return {
    config,
    files,
    table: new RouteTable(routes),
    services,
    trustedProxies: new TrustedProxies(config.gateway.trustedProxies),
    loadedAt: Date.now(),
  };
}

/** Stops what a replaced snapshot started (health checks). */
export function retireSnapshot(snapshot: Snapshot): void {
  for (const service of snapshot.services.values()) service.close();
}
