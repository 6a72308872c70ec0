/** Prometheus series of one gateway, on its own registry, with label children cached for the request path. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastCounter, FastHistogram, type CounterCell, type HistogramCell } from './fast-series.js';
import { processErrors } from '../process-guard.js';
import type { CertificatesView } from '../certificates.js';
import type { ServicesView } from '../services-view.js';

/** How an upstream attempt ended (the `outcome` label of edgeway_upstream_attempts_total). */
export type UpstreamOutcome =
  'success' | 'http_error' | 'timeout' | 'connect_error' | 'aborted' | 'gateway_error';

/** A rate-limit decision (the `outcome` label of edgeway_rate_limit_decisions_total). */
export type { RateLimitOutcome } from '../../traffic/rate-limit/counters.js';
import type { RateLimitOutcome } from '../../traffic/rate-limit/counters.js';

// Seconds. Gateway overhead is sub-millisecond; upstream calls span milliseconds to the timeout.
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

// Semconv http.request.method: anything outside the registered methods is reported as _OTHER, which also
// keeps a client from minting label values.
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);
const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

type CounterChild = ReturnType<Counter<string>['labels']>;

/** Per-route recorders, fetched once per route (or per compiled snapshot) and reused for every request. */
export interface RouteMetrics {
  /** Counts a finished request and observes its duration. */
  request(method: string, status: number, seconds: number): void;
  /** Counts a rate-limit decision on this route. */
  rateLimit(outcome: RateLimitOutcome): void;
}

/** Per-instance recorders for upstream attempts. */
export interface UpstreamMetrics {
  /** Counts an attempt by outcome and observes its duration. */
  attempt(outcome: UpstreamOutcome, seconds: number): void;
}

/**
 * One gateway's metrics. Not the prom-client global registry, so two gateways in one process (tests,
 * workers) never share or double-register series. Names and labels are documented in docs/metrics.md.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  // Per-request series use cells resolved once (fast-series.ts); the rest are prom-client's own types.
  readonly #requests: FastCounter;
  readonly #duration: FastHistogram;
  readonly #attempts: FastCounter;
  readonly #upstreamDuration: FastHistogram;
  readonly #rateLimit: FastCounter;
  readonly #retries: Counter<'service'>;
  readonly #healthy: Gauge<'service' | 'instance'>;
  /** Requests in flight: a plain number on the request path, read into its gauge at each scrape. */
  #inFlight = 0;
  readonly #webSockets: Gauge<'route'>;
  readonly #reloads: Counter<'result'>;
  readonly #pluginErrors: Counter<'plugin' | 'reason'>;
  readonly #routes = new Map<string, RouteMetrics>();
  /** By service, then instance: an attempt finds its recorders without building a key. */
  readonly #upstreams = new Map<string, Map<string, UpstreamMetrics>>();
  readonly #retryChildren = new Map<string, CounterChild>();

  /**
   * `defaultMetrics` adds prom-client's Node process metrics (default true). `redisUp`, when given, is
   * read at every scrape to set edgeway_redis_up (e.g. `() => redis.status === 'ready'`). `services`,
   * when given, is read at every scrape to set edgeway_instance_healthy for every known instance, so
   * static instances that never changed health are reported too and departed ones drop out.
   */
  constructor(
    options: {
      defaultMetrics?: boolean;
      redisUp?: () => boolean;
      services?: ServicesView;
      certificates?: CertificatesView;
      upstreamPools?: () => number;
      spansDropped?: () => number;
    } = {},
  ) {
    const registers = [this.registry];
    const r = this.registry;
    this.#requests = new FastCounter(
      'edgeway_requests_total',
      'Requests answered, by route, method, status and status class.',
      ['route', 'method', 'status', 'status_class'],
      r,
    );
    this.#duration = new FastHistogram(
      'edgeway_request_duration_seconds',
      'Time from request arrival to the end of the response, in seconds.',
      ['route', 'method', 'status', 'status_class'],
      DURATION_BUCKETS,
      r,
    );
    this.#attempts = new FastCounter(
      'edgeway_upstream_attempts_total',
      'Upstream attempts (every retry counts), by service, instance and outcome.',
      ['service', 'instance', 'outcome'],
      r,
    );
    this.#upstreamDuration = new FastHistogram(
      'edgeway_upstream_duration_seconds',
      'Time of one upstream attempt until response headers or failure, in seconds.',
      ['service', 'instance'],
      DURATION_BUCKETS,
      r,
    );
    this.#rateLimit = new FastCounter(
      'edgeway_rate_limit_decisions_total',
      'Rate-limit decisions, by route and outcome (allowed, limited, shadow_limited; fallback also counts a decision made without the shared store).',
      ['route', 'outcome'],
      r,
    );
    this.#retries = new Counter({
      name: 'edgeway_retries_total',
      help: 'Upstream attempts beyond the first, by service.',
      labelNames: ['service'],
      registers,
    });
    const services = options.services;
    this.#healthy = new Gauge({
      name: 'edgeway_instance_healthy',
      help: '1 when the instance is healthy and eligible for traffic, else 0.',
      labelNames: ['service', 'instance'],
      registers,
      ...(services === undefined
        ? {}
        : {
            collect(this: Gauge<'service' | 'instance'>) {
              this.reset();
              for (const service of services()) {
                for (const instance of service.instances)
                  this.labels(service.name, instance.id).set(instance.healthy ? 1 : 0);
              }
            },
          }),
    });
    const metrics = this;
    // prom-client's inc()/dec() validate and hash the (empty) label set and allocate on every call.
    new Gauge({
      name: 'edgeway_in_flight_requests',
      help: 'Requests being handled by this gateway process right now.',
      registers,
      collect(this: Gauge) {
        this.set(metrics.#inFlight);
      },
    });
    this.#webSockets = new Gauge({
      name: 'edgeway_websocket_connections',
      help: 'WebSocket connections open through this gateway process, by route.',
      labelNames: ['route'],
      registers,
    });
    const probe = options.redisUp;
    // Registered only with a probe: an unlabelled gauge is exported as 0 from its creation, and an
    // `edgeway_redis_up == 0` alert must not fire on a gateway that has no Redis at all.
    if (probe !== undefined) {
      new Gauge({
        name: 'edgeway_redis_up',
        help: '1 when the Redis store is connected, 0 when it is not (absent on the in-memory store).',
        registers,
        collect(this: Gauge) {
          this.set(probe() ? 1 : 0);
        },
      });
    }
    const certificates = options.certificates;
    if (certificates !== undefined) {
      new Gauge({
        name: 'edgeway_certificate_expiry_timestamp_seconds',
        help: 'notAfter of the certificate served for each ACME domain, Unix seconds (0 while only the placeholder serves).',
        labelNames: ['domain'],
        registers,
        collect(this: Gauge<'domain'>) {
          this.reset();
          for (const c of certificates()) this.labels(c.domain).set((c.notAfter ?? 0) / 1000);
        },
      });
    }
    const upstreamPools = options.upstreamPools;
    if (upstreamPools !== undefined) {
      new Gauge({
        name: 'edgeway_upstream_pools',
        help: 'Upstream connection pools open in this process (one per instance origin and pool settings).',
        registers,
        collect(this: Gauge) {
          this.set(upstreamPools());
        },
      });
    }
    this.#reloads = new Counter({
      name: 'edgeway_config_reloads_total',
      help: 'Configuration reloads, by result (success, failure).',
      labelNames: ['result'],
      registers,
    });
    this.#pluginErrors = new Counter({
      name: 'edgeway_plugin_errors_total',
      help: 'Plugin hook calls that threw (error) or took longer than gateway.pluginTimeout (timeout), both answered 500, by plugin and reason.',
      labelNames: ['plugin', 'reason'],
      registers,
    });
    new Counter({
      name: 'edgeway_process_errors_total',
      help: 'Errors that no handler caught and reached the process level (logged; the gateway kept serving).',
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(processErrors.count);
      },
    });
    const spansDropped = options.spansDropped;
    if (spansDropped !== undefined) {
      new Counter({
        name: 'edgeway_spans_dropped_total',
        help: 'Spans dropped before export: the export queue (OTEL_BSP_MAX_QUEUE_SIZE) was full while the collector was slow.',
        registers,
        collect(this: Counter) {
          this.reset();
          this.inc(spansDropped());
        },
      });
    }
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The recorders of one route; cached, so call it at build time and keep the result. */
  route(name: string): RouteMetrics {
    let cached = this.#routes.get(name);
    if (cached === undefined) {
      cached = this.#buildRoute(name);
      this.#routes.set(name, cached);
    }
    return cached;
  }

  /** The recorders of one upstream instance; cached per (service, instance). */
  upstream(service: string, instance: string): UpstreamMetrics {
    let byInstance = this.#upstreams.get(service);
    if (byInstance === undefined) {
      byInstance = new Map();
      this.#upstreams.set(service, byInstance);
    }
    let cached = byInstance.get(instance);
    if (cached === undefined) {
      const byOutcome = new Map<UpstreamOutcome, CounterCell>();
      const duration = this.#upstreamDuration.cell(service, instance);
      const attempts = this.#attempts;
      cached = {
        attempt(outcome, seconds) {
          let child = byOutcome.get(outcome);
          if (child === undefined) {
            child = attempts.cell(service, instance, outcome);
            byOutcome.set(outcome, child);
          }
          child.inc();
          duration.observe(seconds);
        },
      };
      byInstance.set(instance, cached);
    }
    return cached;
  }

  /** Counts one retry of a request to `service`. */
  retry(service: string): void {
    let child = this.#retryChildren.get(service);
    if (child === undefined) {
      child = this.#retries.labels(service);
      this.#retryChildren.set(service, child);
    }
    child.inc();
  }

  /** Marks a request as started; pair with {@link requestEnded}. */
  requestStarted(): void {
    this.#inFlight++;
  }

  /** Marks a request as finished. */
  requestEnded(): void {
    this.#inFlight--;
  }

  /** Moves the open WebSocket connections of `route` by one (rare: once per upgrade and close). */
  webSocketConnections(route: string, delta: 1 | -1): void {
    this.#webSockets.labels(route).inc(delta);
  }

  /** Sets an instance's health gauge on a change; with a `services` view the scrape reads it instead. */
  setInstanceHealthy(service: string, instance: string, healthy: boolean): void {
    this.#healthy.labels(service, instance).set(healthy ? 1 : 0);
  }

  /** Drops the series of a deregistered instance so /metrics does not keep reporting it. */
  removeInstance(service: string, instance: string): void {
    this.#healthy.remove(service, instance);
    this.#upstreamDuration.remove(service, instance);
    for (const outcome of [
      'success',
      'http_error',
      'timeout',
      'connect_error',
      'aborted',
      'gateway_error',
    ] satisfies UpstreamOutcome[]) {
      this.#attempts.remove(service, instance, outcome);
    }
    this.#upstreams.get(service)?.delete(instance);
  }

  /** Counts a plugin hook that failed (rare: a label lookup per call is fine). */
  pluginError(plugin: string, reason: 'error' | 'timeout'): void {
    this.#pluginErrors.labels(plugin, reason).inc();
  }

  /** Counts a configuration reload. */
  configReload(result: 'success' | 'failure'): void {
    this.#reloads.labels(result).inc();
  }

  /** The Prometheus text exposition for `GET /metrics`, with its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  #buildRoute(route: string): RouteMetrics {
    const requests = this.#requests;
    const duration = this.#duration;
    const rateLimit = this.#rateLimit;
    // method -> status -> children; filled lazily, then a request costs two map lookups and no allocation.
    const byMethod = new Map<string, Map<number, [CounterCell, HistogramCell]>>();
    const byOutcome = new Map<RateLimitOutcome, CounterCell>();
    return {
      request(method, status, seconds) {
        const m = KNOWN_METHODS.has(method) ? method : '_OTHER';
        let statuses = byMethod.get(m);
        if (statuses === undefined) {
          statuses = new Map();
          byMethod.set(m, statuses);
        }
        let children = statuses.get(status);
        if (children === undefined) {
          const code = String(status);
          const statusClass = STATUS_CLASSES[
            Math.min(5, Math.max(1, Math.floor(status / 100)))
          ] as string;
          children = [
            requests.cell(route, m, code, statusClass),
            duration.cell(route, m, code, statusClass),
          ];
          statuses.set(status, children);
        }
        children[0].inc();
        children[1].observe(seconds);
      },
      rateLimit(outcome) {
        let child = byOutcome.get(outcome);
        if (child === undefined) {
          child = rateLimit.cell(route, outcome);
          byOutcome.set(outcome, child);
        }
        child.inc();
      },
    };
  }
}
