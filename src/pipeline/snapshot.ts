/** A config compiled into the runtime objects the request path reads: routes, stages, services. */
import type { Config } from '../config/schema.js';
import type { ForwardPlan } from '../proxy/forward.js';
import { compileSplit } from '../balancing/split.js';
import { buildService, type ServiceDeps } from './build-service.js';
import { TrustedProxies } from './client-ip.js';
import type { Stage } from '../request/context.js';
import type { CompiledRoute } from '../request/route.js';
import { compileMatch, RouteTable } from './route-table.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { WebSocketPlan } from '../proxy/websocket/forward-websocket.js';
import { buildStages, type StageDeps } from './stages.js';

/** A route with everything the request path needs, resolved at load. */
export interface RuntimeRoute extends CompiledRoute {
  /** The service for this request: the route's own, or a canary of its weighted split. */
  pickService(): ServiceRuntime;
  readonly stages: readonly Stage[];
  readonly plan: ForwardPlan;
  /** The route's `websocket` settings; undefined when it refuses upgrades. */
  readonly webSocket: WebSocketPlan | undefined;
  /** `auth.queryToken`: the `access_token` query parameter is removed before forwarding. */
  readonly stripsQueryToken: boolean;
}

/** Long-lived objects shared by successive snapshots, so a reload keeps pools, buckets and caches. */
export interface SnapshotDeps extends StageDeps, ServiceDeps {}

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
  return {
    requestTimeoutMs: route.timeouts?.request ?? service.timeouts.request,
    maxBodyBytes: config.gateway.maxBodyBytes,
    perTryTimeoutMs: service.retries?.perTryTimeout,
    serverTiming: config.telemetry.serverTiming,
    retryNonIdempotent: route.retryNonIdempotent,
    // A gRPC-Web route serves native gRPC clients too: deadlines, no status retries, te: trailers.
    grpc: route.grpc || route.grpcWeb,
    grpcWeb: route.grpcWeb,
  };
}

function servicePicker(
  route: Config['routes'][number],
  services: ReadonlyMap<string, ServiceRuntime>,
): () => ServiceRuntime {
  const own = services.get(route.service) as ServiceRuntime;
  if (route.split === undefined || route.split.length === 0) return () => own;
  const split = compileSplit(route.service, route.split);
  if (!split.ok) throw new Error(split.message);
  const { picker } = split;
  return () => services.get(picker.pick(Math.random)) ?? own;
}

/** Compiles a validated config; throws only on programming errors (config problems were caught by loadAndCompile). */
export function buildSnapshot(
  config: Config,
  files: readonly string[],
  deps: SnapshotDeps,
): Snapshot {
  const services = new Map<string, ServiceRuntime>();
  for (const [name, serviceConfig] of Object.entries(config.services)) {
    services.set(name, buildService(name, serviceConfig, deps));
  }
  const routes = config.routes.map((route, index): RuntimeRoute => {
    const compiled: CompiledRoute = {
      name: route.name,
      index,
      config: route,
      match: compileMatch(route),
    };
    const plan = forwardPlan(config, route);
    const ws = route.websocket;
    return {
      ...compiled,
      pickService: servicePicker(route, services),
      stages: buildStages(compiled, deps),
      plan,
      webSocket:
        ws === undefined
          ? undefined
          : {
              idleTimeoutMs: ws.idleTimeout,
              maxConnections: ws.maxConnections,
              handshakeTimeoutMs: plan.requestTimeoutMs,
            },
      stripsQueryToken: route.auth?.queryToken === true,
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
