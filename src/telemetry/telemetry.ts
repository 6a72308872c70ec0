/** One gateway's telemetry, built once: tracing, spans, metrics, access log, stats, history and alerts. */
import type { CertificatesView } from './certificates.js';
import { hostname } from 'node:os';
import type { StoreBackend } from '../store/backend.js';
import type { Logger } from 'pino';
import {
  createAccessLog,
  type AccessLog,
  type AccessLogEntry,
  type AccessLogOptions,
} from './access-log.js';
import { MemoryAlertState, RedisAlertState } from './alerts/alert-state.js';
import type { AlertsConfig } from '../config/alerts-schema.js';
import { AlertEvaluator } from './alerts/alerts.js';
import { RedisHistory } from './history/history.js';
import { GatewayMetrics, type RouteMetrics } from './metrics/metrics.js';
import { startTracing, type Tracing, type TracingOptions } from './tracing/otel.js';
import type { ServicesView } from './services-view.js';
import type { ServerSpan } from '../request/server-span.js';
import { SpanFactory, type SpanOptions } from './tracing/spans.js';
import { StatsCollector, type RouteStats } from './history/stats.js';
import { reasonOf } from './history/reasons.js';
import { STARTED_AT, VERSION } from './build-info.js';
import { WebhookSender } from './alerts/webhook.js';

/** What {@link createTelemetry} needs. */
export interface TelemetryOptions {
  readonly backend: StoreBackend;
  /** Where background work (history, alerts, webhooks) reports trouble. */
  readonly logger: Logger;
  /** The parsed top-level `alerts` config section. */
  readonly alerts: AlertsConfig;
  readonly servicesView?: ServicesView;
  /** The ACME certificates, for the expiry metric and certificate-expiry alerts. */
  readonly certificates?: CertificatesView;
  /** How many upstream connection pools are open, read at each scrape (edgeway_upstream_pools). */
  readonly upstreamPools?: () => number;
  readonly spans?: SpanOptions;
  readonly tracing?: TracingOptions;
  readonly accessLog?: AccessLogOptions;
  /** This gateway's name in alert notifications (default `<hostname>:<pid>`). */
  readonly gatewayName?: string;
}

/** The per-route recorders; build once per compiled route and keep on it. */
export interface RouteTelemetry {
  readonly name: string;
  readonly metrics: RouteMetrics;
  readonly stats: RouteStats;
}

/** A gateway's telemetry. */
export interface Telemetry {
  readonly tracing: Tracing;
  readonly spans: SpanFactory;
  readonly metrics: GatewayMetrics;
  readonly accessLog: AccessLog;
  readonly stats: StatsCollector;
  /** Shared per-minute history (Redis backend only). */
  readonly history: RedisHistory | undefined;
  readonly alerts: AlertEvaluator;
  /** The recorders of a route (cached by name, so reloads keep counting into the same series). */
  forRoute(name: string): RouteTelemetry;
  /** This gateway's id in the fleet view and in alert notifications. */
  readonly gatewayName: string;
  /**
   * Records a finished request everywhere at once: metrics, rolling stats, the SERVER span's end and
   * the access log line. `error` is the GatewayError that answered, if any.
   */
  finish(route: RouteTelemetry, server: ServerSpan, entry: AccessLogEntry, error?: Error): void;
  /** Starts the history flush and alert evaluation timers. */
  start(): void;
  /** Stops timers, flushes history, webhooks, the access log and pending spans. */
  shutdown(): Promise<void>;
}

/** Builds a gateway's telemetry from its backend and config; call `start()` once the gateway listens. */
export function createTelemetry(options: TelemetryOptions): Telemetry {
  const { backend, logger } = options;
  const tracing = startTracing(options.tracing);
  const spans = new SpanFactory(tracing, options.spans);
  const redisUp = backend.kind === 'redis' ? () => backend.redis.status === 'ready' : undefined;
  const metrics = new GatewayMetrics({
    ...(redisUp === undefined ? {} : { redisUp }),
    ...(options.servicesView === undefined ? {} : { services: options.servicesView }),
    ...(options.certificates === undefined ? {} : { certificates: options.certificates }),
    ...(options.upstreamPools === undefined ? {} : { upstreamPools: options.upstreamPools }),
    ...(tracing.enabled ? { spansDropped: () => tracing.droppedSpans() } : {}),
  });
  const accessLog = createAccessLog(options.accessLog);
  const stats = new StatsCollector();
  const gatewayName = options.gatewayName ?? `${hostname()}:${process.pid}`;
  const history =
    backend.kind === 'redis'
      ? new RedisHistory(backend.redis, stats, {
          logger,
          gateway: { id: gatewayName, version: VERSION, startedAt: STARTED_AT },
        })
      : undefined;
  const webhooks = new WebhookSender(options.alerts.webhooks, { logger });
  const localStore = new MemoryAlertState();
  const alerts = new AlertEvaluator(
    options.alerts,
    {
      stats,
      ...(options.servicesView === undefined ? {} : { servicesView: options.servicesView }),
      ...(redisUp === undefined ? {} : { redisUp }),
      ...(options.certificates === undefined ? {} : { certificates: options.certificates }),
    },
    {
      store: backend.kind === 'redis' ? new RedisAlertState(backend.redis) : localStore,
      localStore,
      webhooks,
      logger,
      gateway: gatewayName,
    },
  );
  const routes = new Map<string, RouteTelemetry>();
  return {
    tracing,
    spans,
    metrics,
    accessLog,
    stats,
    history,
    alerts,
    gatewayName,
    forRoute(name) {
      let route = routes.get(name);
      if (route === undefined) {
        route = { name, metrics: metrics.route(name), stats: stats.route(name) };
        routes.set(name, route);
      }
      return route;
    },
    finish(route, server, entry, error) {
      route.metrics.request(entry.method, entry.status, entry.durationMs / 1000);
      route.stats.record(
        entry.status,
        entry.durationMs,
        entry.requestId,
        entry.traceId,
        reasonOf(entry.status, error),
        entry,
      );
      spans.endServerSpan(server, entry.status, error);
      accessLog.write(entry);
    },
    start() {
      history?.start();
      alerts.start();
    },
    async shutdown() {
      await alerts.stop();
      await history
        ?.stop()
        .catch((err: unknown) => logger.warn({ err }, 'final history flush failed'));
      await webhooks.drain();
      await accessLog.flush();
      await tracing.shutdown();
    },
  };
}
