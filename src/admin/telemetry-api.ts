/** Admin telemetry endpoints: Prometheus `/metrics`, the dashboard page at `/` and its data at `/admin/stats`. */
import { Hono } from 'hono';
import { createStatsEndpoint, parseRange, type GatewayMeta } from './dashboard/stats-endpoint.js';
import { dashboardPage } from './dashboard/page.js';
import type { ServiceStatus } from './services-api.js';
import type { ServiceView } from '../telemetry/services-view.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { RouteConfig } from '../config/schema.js';
import type { CertificatesView } from '../telemetry/certificates.js';
import { STARTED_AT, VERSION } from '../telemetry/build-info.js';

/** What the dashboard reads beyond telemetry: the live snapshot's routes and services, and part states. */
export interface DashboardDeps {
  services(): ReadonlyMap<string, ServiceRuntime>;
  routes(): ReadonlyArray<{ readonly name: string; readonly config: RouteConfig }>;
  /** `dashboard.traceUrl` of the live config. */
  traceUrl(): string | undefined;
  store(): GatewayMeta['store'];
  registry(): GatewayMeta['registry'];
  /** The ACME certificates, when `gateway.tls.acme` is set (the page shows a Certificates panel). */
  readonly certificates?: CertificatesView | undefined;
}

/**
 * The dashboard's, alerts' and metrics' view of the configured services, derived from the admin API's
 * status: an instance counts as healthy when a pick could choose it (healthy, not ejected, not draining).
 */
export function viewServices(statuses: readonly ServiceStatus[]): ServiceView[] {
  return statuses
    .filter((service) => service.configured)
    .map((service) => ({
      name: service.name,
      instances: service.instances.map((instance) => ({
        id: instance.id,
        url: instance.url,
        healthy: instance.healthy !== false && !instance.ejected && !instance.draining,
        weight: instance.weight,
        inFlight: instance.inFlight,
        latencyMs: instance.latencyMs ?? undefined,
      })),
    }));
}

/**
 * Mounted at the admin root; `/admin/stats` sits behind the admin token like the rest of `/admin/*`.
 * `exposition` renders `/metrics`.
 */
export function telemetryApi(
  telemetry: Telemetry,
  deps: DashboardDeps,
  exposition: () => Promise<{ contentType: string; body: string }> = () =>
    telemetry.metrics.exposition(),
): Hono {
  const app = new Hono();
  const page = dashboardPage();
  const stats = createStatsEndpoint({
    stats: telemetry.stats,
    history: telemetry.history,
    gatewayId: telemetry.gatewayName,
    routes: deps.routes,
    services: deps.services,
    alerts: telemetry.alerts,
    certificates: deps.certificates,
    meta: () => ({
      version: VERSION,
      startedAt: STARTED_AT,
      store: deps.store(),
      registry: deps.registry(),
      traceUrl: deps.traceUrl() ?? null,
    }),
  });

  app.get('/', (c) => c.html(page));
  app.get('/metrics', async (c) => {
    const { contentType, body } = await exposition();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.get('/admin/stats', async (c) =>
    c.json(await stats(parseRange(c.req.query('range'))), 200, { 'cache-control': 'no-store' }),
  );
  return app;
}
