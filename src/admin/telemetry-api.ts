/** Admin telemetry endpoints: Prometheus `/metrics`, the dashboard page at `/` and its data at `/admin/stats`. */
import { Hono } from 'hono';
import { createStatsEndpoint } from './dashboard/stats-endpoint.js';
import { dashboardPage } from './dashboard/page.js';
import type { ServiceStatus } from './services-api.js';
import type { ServiceView, ServicesView } from '../telemetry/services-view.js';
import type { Telemetry } from '../telemetry/telemetry.js';

/**
 * The dashboard's, alerts' and metrics' view of the configured services, derived from the admin API's
 * status: an instance counts as healthy when a pick could choose it (healthy, not ejected, not draining).
 */
export function viewServices(statuses: readonly ServiceStatus[]): ServiceView[] {
  return statuses.filter((service) => service.configured).map((service) => ({
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

/** Mounted at the admin root; `/admin/stats` sits behind the admin token like the rest of `/admin/*`. `exposition` renders `/metrics`. */
export function telemetryApi(
  telemetry: Telemetry,
  servicesView: ServicesView,
  routeNames: () => readonly string[],
  exposition: () => Promise<{ contentType: string; body: string }> = () => telemetry.metrics.exposition(),
): Hono {
  const app = new Hono();
  const page = dashboardPage();
  const stats = createStatsEndpoint({ stats: telemetry.stats, history: telemetry.history, servicesView, alerts: telemetry.alerts, routeNames });

  app.get('/', (c) => c.html(page));
  app.get('/metrics', async (c) => {
    const { contentType, body } = await exposition();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.get('/admin/stats', async (c) => c.json(await stats(), 200, { 'cache-control': 'no-store' }));
  return app;
}
