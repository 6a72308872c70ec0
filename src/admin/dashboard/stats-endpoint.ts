/** The dashboard's data: one plain object built from stats, history, services and alerts (served as JSON). */
import type { ActiveAlert } from '../../telemetry/alerts.js';
import type { RedisHistory } from '../../telemetry/history.js';
import type { ServiceView, ServicesView } from '../../telemetry/services-view.js';
import type { MinutePoint, RecentRequest, StatsCollector } from '../../telemetry/stats.js';

/** One route's row and charts. */
export interface RouteStatsView {
  readonly name: string;
  /** Live requests per second (last 5 s, this gateway). */
  readonly rps: number;
  /** 5xx ratio over the last minute (this gateway). */
  readonly errorRatio: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
  /** 429 answers over the charted 15 minutes. */
  readonly rateLimited: number;
  /** Per-minute points, oldest first (all gateways when `source` is redis). */
  readonly series: readonly MinutePoint[];
}

/** The body of `GET /admin/stats`. */
export interface DashboardStats {
  /** Server time, epoch ms. */
  readonly now: number;
  /** Where the per-minute series come from: this process, or Redis (merged over all gateways). */
  readonly source: 'local' | 'redis';
  readonly routes: readonly RouteStatsView[];
  readonly services: readonly ServiceView[];
  readonly alerts: readonly ActiveAlert[];
  readonly recent: readonly RecentRequest[];
}

/** What the endpoint reads. Everything but `stats` is optional. */
export interface DashboardSources {
  readonly stats: StatsCollector;
  /** Shared per-minute history; when present the charts show all gateways. */
  readonly history?: RedisHistory;
  readonly servicesView?: ServicesView;
  readonly alerts?: { active(): ActiveAlert[] };
  /** Route names to always list (configured routes), even before their first request. */
  readonly routeNames?: () => readonly string[];
  readonly now?: () => number;
}

/**
 * Builds the handler logic for `GET /admin/stats`. If Redis history fails, the charts fall back to this
 * gateway's own minutes rather than failing the dashboard.
 */
export function createStatsEndpoint(sources: DashboardSources): () => Promise<DashboardStats> {
  const now = sources.now ?? Date.now;
  return async () => {
    const at = now();
    const names = [...new Set([...(sources.routeNames?.() ?? []), ...sources.stats.routeNames()])].sort();
    let source: DashboardStats['source'] = 'local';
    let allSeries = names.map((name) => sources.stats.minuteSeries(name));
    if (sources.history !== undefined) {
      const history = sources.history;
      try {
        allSeries = await Promise.all(names.map((name) => history.series(name, at)));
        source = 'redis';
      } catch {
        // Redis is down: this gateway's own minutes are better than an empty dashboard.
      }
    }
    const routes: RouteStatsView[] = [];
    for (const [index, name] of names.entries()) {
      const series = allSeries[index] as MinutePoint[];
      const minute = sources.stats.window(name, 60);
      routes.push({
        name,
        rps: sources.stats.rate(name),
        errorRatio: minute.errorRatio,
        p50Ms: minute.p50Ms,
        p99Ms: minute.p99Ms,
        rateLimited: series.reduce((sum, p) => sum + p.rateLimited, 0),
        series,
      });
    }
    return {
      now: at,
      source,
      routes,
      services: sources.servicesView?.() ?? [],
      alerts: sources.alerts?.active() ?? [],
      recent: sources.stats.recent(),
    };
  };
}
