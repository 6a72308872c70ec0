/** Admin telemetry endpoints: Prometheus `/metrics`, the dashboard page at `/` and its data at `/admin/stats`. */
import { Hono } from 'hono';
import { createStatsEndpoint } from './dashboard/stats-endpoint.js';
import { dashboardPage } from './dashboard/page.js';
import type { ServiceRuntime } from '../pipeline/service-runtime.js';
import type { ServiceView, ServicesView } from '../telemetry/services-view.js';
import type { Telemetry } from '../telemetry/telemetry.js';

/** The dashboard's and alerts' view of live services and their endpoints. */
export function viewServices(services: ReadonlyMap<string, ServiceRuntime>): ServiceView[] {
  const now = Date.now();
  return [...services.values()].map((service) => ({
    name: service.name,
    instances: service.endpoints().map((endpoint) => ({
      id: endpoint.id,
      url: endpoint.url,
      healthy: endpoint.available(now),
      weight: endpoint.weight,
      inFlight: endpoint.inFlight,
      latencyMs: endpoint.ewmaLatencyMs > 0 ? endpoint.ewmaLatencyMs : undefined,
    })),
  }));
}

/** Mounted at the admin root; `/admin/stats` sits behind the admin token like the rest of `/admin/*`. */
export function telemetryApi(telemetry: Telemetry, servicesView: ServicesView, routeNames: () => readonly string[]): Hono {
  const app = new Hono();
  const page = dashboardPage();
  const stats = createStatsEndpoint({ stats: telemetry.stats, history: telemetry.history, servicesView, alerts: telemetry.alerts, routeNames });

  app.get('/', (c) => c.html(page));
  app.get('/metrics', async (c) => {
    const { contentType, body } = await telemetry.metrics.exposition();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.get('/admin/stats', async (c) => c.json(await stats(), 200, { 'cache-control': 'no-store' }));
  return app;
}
