/** The dashboard's data: one plain object per poll, built from history buckets, live stats, services and alerts. */
import type { ActiveAlert, AlertEvent } from '../../telemetry/alerts/alerts.js';
import type { GatewayInfo, RedisHistory } from '../../telemetry/history/history.js';
import {
  CONSUMERS,
  GATEWAYS,
  INSTANCES,
  SEP,
  parseAggregate,
  splitInstanceField,
  type Fields,
} from '../../telemetry/history/history-fields.js';
import {
  LocalBucketSource,
  RANGES,
  RedisBucketSource,
  bucketStarts,
  type BucketSource,
  type RangeName,
} from '../../telemetry/history/history-read.js';
import {
  mergeAggregate,
  newAggregate,
  type Aggregate,
  type RecentRequest,
  type StatsCollector,
} from '../../telemetry/history/stats.js';
import { quantileMs } from '../../telemetry/history/latency-sketch.js';
import { REASONS } from '../../telemetry/history/reasons.js';
import {
  topConsumers,
  type ConsumerCount,
  type ConsumerTotal,
} from '../../telemetry/history/consumers.js';
import type { ServiceRuntime } from '../../proxy/service-runtime.js';
import type { RouteConfig } from '../../config/schema.js';
import { serviceRows, type ServiceRow } from './instances-view.js';
import { BucketMath, type ParsedBucket } from './bucket-math.js';
import { certificateRows, type CertificateRow } from './certificates-view.js';
import type { CertificatesView } from '../../telemetry/certificates.js';

/** Requests of a bucket or range by status class; `s429` is also inside `s4xx`, and a rare 1xx counts as 2xx. */
export interface Classes {
  readonly requests: number;
  readonly s2xx: number;
  readonly s3xx: number;
  readonly s4xx: number;
  readonly s429: number;
  readonly s5xx: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** A chart's columns, one entry per bucket of `DashboardStats.starts` (2xx is requests minus the rest). */
export interface Series {
  readonly requests: number[];
  readonly s3xx: number[];
  readonly s4xx: number[];
  readonly s429: number[];
  readonly s5xx: number[];
  readonly p99Ms: Array<number | null>;
}

/** One route's row, charts and configuration. */
export interface RouteRow {
  readonly name: string;
  /** The route as configured (match, auth, limits); null for a route only other gateways or history know. */
  readonly config: Pick<
    RouteConfig,
    'match' | 'service' | 'stripPrefix' | 'auth' | 'rateLimit' | 'split' | 'timeouts'
  > | null;
  /** Live requests per second on this gateway (last 5 s). */
  readonly liveRps: number;
  readonly totals: Classes;
  /** Failed requests by reason over the range. */
  readonly reasons: Readonly<Record<string, number>>;
  readonly series: Series;
}

/** One gateway of the fleet. */
export interface GatewayRow {
  readonly id: string;
  readonly version: string | null;
  readonly startedAt: number | null;
  /** Last announcement (epoch ms); null when only history knows the gateway. */
  readonly seenAt: number | null;
  readonly self: boolean;
  readonly totals: Classes;
}

/** Version, uptime and the state of the parts the gateway leans on. */
export interface GatewayMeta {
  readonly gateway: string;
  readonly version: string;
  readonly startedAt: number;
  readonly store: { readonly kind: 'memory' | 'redis'; readonly state: string };
  readonly registry: Readonly<Record<string, unknown>>;
  /** `dashboard.traceUrl` with `{traceId}` in it, or null. */
  readonly traceUrl: string | null;
}

/** The body of `GET /admin/stats?range=15m|1h|6h|24h`. */
export interface DashboardStats {
  readonly now: number;
  readonly range: RangeName;
  /** Width of one chart point, ms. */
  readonly bucketMs: number;
  /** Start of each chart point, epoch ms, oldest first. */
  readonly starts: readonly number[];
  /** Where the ranged numbers come from: Redis (all gateways) or this process (its last 15 minutes). */
  readonly source: 'redis' | 'local';
  /** Why the source is local while Redis is configured, else null. */
  readonly sourceError: string | null;
  readonly meta: GatewayMeta;
  readonly fleet: {
    readonly totals: Classes;
    readonly series: Series;
    readonly reasons: Readonly<Record<string, number>>;
  };
  readonly gateways: readonly GatewayRow[];
  readonly routes: readonly RouteRow[];
  readonly services: readonly ServiceRow[];
  readonly consumers: {
    readonly byRequests: readonly ConsumerTotal[];
    readonly byRateLimited: readonly ConsumerTotal[];
  };
  /** Recent failed (4xx, 5xx) or slow requests on this gateway, newest first. */
  readonly failures: readonly RecentRequest[];
  readonly alerts: {
    readonly active: readonly ActiveAlert[];
    readonly history: readonly AlertEvent[];
  };
  /** The ACME domains as this gateway sees them; null when `gateway.tls.acme` is not set. */
  readonly certificates: readonly CertificateRow[] | null;
}

/** What the endpoint reads. */
export interface DashboardSources {
  readonly stats: StatsCollector;
  /** Shared history; when present the ranged numbers cover all gateways. */
  readonly history?: RedisHistory | undefined;
  /** This gateway's id (as it flushes into history). */
  readonly gatewayId: string;
  /** Configured routes of the live snapshot. */
  readonly routes?: () => ReadonlyArray<{ readonly name: string; readonly config: RouteConfig }>;
  /** Configured services of the live snapshot. */
  readonly services?: () => ReadonlyMap<string, ServiceRuntime>;
  readonly alerts?: { active(): ActiveAlert[]; history(): Promise<AlertEvent[]> };
  /** The ACME certificates, when `gateway.tls.acme` is set. */
  readonly certificates?: CertificatesView | undefined;
  readonly meta: () => Omit<GatewayMeta, 'gateway'>;
  readonly now?: () => number;
}

const UNROUTED = '(unrouted)';
const TOP_CONSUMERS = 10;

function classes(a: Aggregate): Classes {
  const p50 = quantileMs(a.latency, 0.5);
  const p99 = quantileMs(a.latency, 0.99);
  return {
    requests: a.requests,
    s2xx: Math.max(0, a.requests - a.status3xx - a.errors4xx - a.errors5xx),
    s3xx: a.status3xx,
    s4xx: a.errors4xx,
    s429: a.rateLimited,
    s5xx: a.errors5xx,
    p50Ms: p50 ?? null,
    p99Ms: p99 ?? null,
  };
}

function series(buckets: readonly ParsedBucket[]): Series {
  const out: Series = { requests: [], s3xx: [], s4xx: [], s429: [], s5xx: [], p99Ms: [] };
  for (const { aggregate: a, p99Ms } of buckets) {
    out.requests.push(a.requests);
    out.s3xx.push(a.status3xx);
    out.s4xx.push(a.errors4xx);
    out.s429.push(a.rateLimited);
    out.s5xx.push(a.errors5xx);
    out.p99Ms.push(p99Ms);
  }
  return out;
}

/** Adds a bucket's counts (not its latency: the fleet chart shows none) into a fleet bucket. */
function addCounts(into: Aggregate, from: Aggregate): void {
  into.requests += from.requests;
  into.status3xx += from.status3xx;
  into.errors4xx += from.errors4xx;
  into.errors5xx += from.errors5xx;
  into.rateLimited += from.rateLimited;
}

function reasonCounts(a: Aggregate): Record<string, number> {
  const out: Record<string, number> = {};
  a.reasons.forEach((n, i) => {
    if (n !== 0) out[REASONS[i] as string] = n;
  });
  return out;
}

function attemptCounts(fields: Fields): Map<string, Map<string, Record<string, number>>> {
  const out = new Map<string, Map<string, Record<string, number>>>();
  for (const [field, n] of fields) {
    const parts = splitInstanceField(field);
    if (parts === undefined) continue;
    let byId = out.get(parts.service);
    if (byId === undefined) out.set(parts.service, (byId = new Map()));
    const counts = byId.get(parts.id) ?? {};
    counts[parts.outcome] = (counts[parts.outcome] ?? 0) + n;
    byId.set(parts.id, counts);
  }
  return out;
}

function consumerCounts(fields: Fields): Map<string, ConsumerCount> {
  const out = new Map<string, ConsumerCount>();
  for (const [field, n] of fields) {
    const kind = field.slice(0, 2);
    if (kind !== `r${SEP}` && kind !== `l${SEP}`) continue;
    const sub = field.slice(2);
    let entry = out.get(sub);
    if (entry === undefined) out.set(sub, (entry = { requests: 0, rateLimited: 0 }));
    if (kind === `r${SEP}`) entry.requests += n;
    else entry.rateLimited += n;
  }
  return out;
}

function gatewayIds(fields: Fields): Set<string> {
  const ids = new Set<string>();
  for (const field of fields.keys()) {
    const end = field.lastIndexOf(SEP);
    if (end > 0) ids.add(field.slice(0, end));
  }
  return ids;
}

/** Parses `?range=`; anything else is the default 15 minutes. */
export function parseRange(value: string | undefined): RangeName {
  return value !== undefined && Object.hasOwn(RANGES, value) ? (value as RangeName) : '15m';
}

/**
 * Builds `GET /admin/stats`. With Redis the ranged numbers come from the shared history (finished
 * buckets cached in process); when Redis fails they fall back to this gateway's own last 15 minutes.
 */
export function createStatsEndpoint(
  sources: DashboardSources,
): (range?: RangeName) => Promise<DashboardStats> {
  const now = sources.now ?? Date.now;
  const local = new LocalBucketSource(sources.stats, sources.gatewayId);
  const shared = sources.history === undefined ? undefined : new RedisBucketSource(sources.history);
  const math = new BucketMath();

  async function read(
    source: BucketSource,
    names: readonly string[],
    range: RangeName,
    at: number,
  ): Promise<{
    routes: Fields[][];
    gateways: Fields[];
    instances: Fields[];
    consumers: Fields[];
    registered: GatewayInfo[];
  }> {
    const [routes, gateways, instances, consumers, registered] = await Promise.all([
      Promise.all(names.map((name) => source.buckets(name, range, at))),
      source.buckets(GATEWAYS, range, at),
      source.buckets(INSTANCES, range, at),
      source.buckets(CONSUMERS, range, at),
      source === shared ? (sources.history as RedisHistory).gateways() : Promise.resolve([]),
    ]);
    return { routes, gateways, instances, consumers, registered };
  }

  return async (range = '15m') => {
    const at = now();
    const configured = sources.routes?.() ?? [];
    const configs = new Map(configured.map((route) => [route.name, route.config]));
    const names = [...new Set([...configs.keys(), ...sources.stats.routeNames(), UNROUTED])].sort();
    let source: BucketSource = shared ?? local;
    let sourceError: string | null = null;
    let data;
    try {
      // This gateway's unsent minutes go first, so its own traffic shows at once rather than a flush later.
      await sources.history?.flush();
      data = await read(source, names, range, at);
    } catch (err) {
      // Redis is down: this gateway's own minutes are better than an empty dashboard.
      sourceError = (err as Error).message;
      source = local;
      data = await read(local, names, range, at);
    }
    // The shared alert history lives in Redis too: when it cannot be read the list is empty, not the page.
    const alertHistory = await (sources.alerts?.history() ?? Promise.resolve([])).catch(
      (): AlertEvent[] => [],
    );
    const starts = bucketStarts(range, at);
    const fleetBuckets = starts.map(() => newAggregate());
    const fleetTotal = newAggregate();
    const routes: RouteRow[] = [];
    names.forEach((name, i) => {
      const fields = data.routes[i] as Fields[];
      const buckets = fields.map((bucket) => math.parse(bucket));
      const total = math.total(`${name}\n${range}`, fields);
      buckets.forEach((bucket, b) => addCounts(fleetBuckets[b] as Aggregate, bucket.aggregate));
      mergeAggregate(fleetTotal, total);
      const config = configs.get(name);
      if (config === undefined && total.requests === 0) return;
      routes.push({
        name,
        config:
          config === undefined
            ? null
            : {
                match: config.match,
                service: config.service,
                stripPrefix: config.stripPrefix,
                auth: config.auth,
                rateLimit: config.rateLimit,
                split: config.split,
                timeouts: config.timeouts,
              },
        liveRps: sources.stats.rate(name),
        totals: classes(total),
        reasons: reasonCounts(total),
        series: series(buckets),
      });
    });
    const gatewayFields = math.fields(`${GATEWAYS}\n${range}`, data.gateways);
    const registered = new Map(data.registered.map((info) => [info.id, info]));
    // A gateway silent since before the range (an old pid after a restart) is not part of this view.
    const recent = data.registered
      .filter((info) => info.seenAt >= (starts[0] as number))
      .map((info) => info.id);
    const ids = new Set([...recent, ...gatewayIds(gatewayFields), sources.gatewayId]);
    const gateways: GatewayRow[] = [...ids].sort().map((id) => {
      const info = registered.get(id);
      return {
        id,
        version: info?.version ?? null,
        startedAt: info?.startedAt ?? null,
        seenAt: info?.seenAt ?? null,
        self: id === sources.gatewayId,
        totals: classes(parseAggregate(gatewayFields, `${id}${SEP}`)),
      };
    });
    const consumers = consumerCounts(math.fields(`${CONSUMERS}\n${range}`, data.consumers));
    const meta = sources.meta();
    return {
      now: at,
      range,
      bucketMs: RANGES[range].bucketMinutes * 60_000,
      starts,
      source: source.fleet ? 'redis' : 'local',
      sourceError,
      meta: { gateway: sources.gatewayId, ...meta },
      fleet: {
        totals: classes(fleetTotal),
        series: series(fleetBuckets.map((aggregate) => ({ aggregate, p99Ms: null }))),
        reasons: reasonCounts(fleetTotal),
      },
      gateways,
      routes,
      services: serviceRows(
        sources.services?.() ?? new Map(),
        attemptCounts(math.fields(`${INSTANCES}\n${range}`, data.instances)),
        sources.stats,
        at,
      ),
      consumers: {
        byRequests: topConsumers(consumers, 'requests', TOP_CONSUMERS),
        byRateLimited: topConsumers(consumers, 'rateLimited', TOP_CONSUMERS),
      },
      failures: sources.stats.recent(),
      alerts: { active: sources.alerts?.active() ?? [], history: alertHistory },
      certificates:
        sources.certificates === undefined ? null : certificateRows(sources.certificates(), at),
    };
  };
}
