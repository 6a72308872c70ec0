/** In-process rolling per-route statistics: 15 per-minute buckets, 60 per-second buckets, recent slow/failed requests. */
import { bucketIndex, mergeSketch, newSketch, quantileMs } from './latency-sketch.js';
import { NO_REASON, REASONS, REASON_COUNT } from './reasons.js';
import type { AccessLogEntry } from '../access-log.js';
import { ConsumerCounts } from './consumers.js';
import { InstanceStats, type InstanceListener } from './instance-stats.js';

/** Counts of one time bucket (a minute or a second). */
export interface Aggregate {
  requests: number;
  status3xx: number;
  errors5xx: number;
  errors4xx: number;
  /** 429 answers (rate-limit rejections; also counted in errors4xx). */
  rateLimited: number;
  readonly latency: Uint32Array;
  /** Failed requests by reason index (see reasons.ts). */
  readonly reasons: Uint32Array;
}

/** A fresh, empty aggregate. */
export function newAggregate(): Aggregate {
  return {
    requests: 0,
    status3xx: 0,
    errors5xx: 0,
    errors4xx: 0,
    rateLimited: 0,
    latency: newSketch(),
    reasons: new Uint32Array(REASON_COUNT),
  };
}

/** Adds `from` into `into`. */
export function mergeAggregate(into: Aggregate, from: Aggregate): void {
  into.requests += from.requests;
  into.status3xx += from.status3xx;
  into.errors5xx += from.errors5xx;
  into.errors4xx += from.errors4xx;
  into.rateLimited += from.rateLimited;
  mergeSketch(into.latency, from.latency);
  for (let i = 0; i < REASON_COUNT; i++)
    into.reasons[i] = (into.reasons[i] as number) + (from.reasons[i] as number);
}

interface Slot extends Aggregate {
  at: number;
}

/** A summary over a trailing window. */
export interface WindowSummary {
  readonly requests: number;
  readonly errors5xx: number;
  readonly errors4xx: number;
  /** errors5xx / requests, 0 when there were no requests. */
  readonly errorRatio: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

/** A slow or failed request kept for the dashboard. */
export interface RecentRequest {
  readonly at: number;
  readonly requestId: string;
  readonly traceId: string;
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly instance: string | undefined;
  readonly status: number;
  /** The failure reason (an error code, `upstream_4xx`/`upstream_5xx`), or undefined for a slow success. */
  readonly reason: string | undefined;
  /** How the last failed upstream attempt failed (`connect-failure`, `timeout`, ...), if one did. */
  readonly upstreamFailure: string | undefined;
  /** The message edgeway answered with, if it answered an error itself. */
  readonly message: string | undefined;
  /** Upstream attempts made (0 when the gateway answered before forwarding). */
  readonly attempts: number;
  readonly sub: string | undefined;
  readonly durationMs: number;
}

/** What the request path knows beyond status and latency (the access-log entry fits); copied only into a failure row. */
export type RecordDetail = Pick<
  AccessLogEntry,
  'sub' | 'method' | 'path' | 'instance' | 'attempts'
> &
  Partial<Pick<AccessLogEntry, 'reason' | 'error'>>;

/** Per-route recorder; fetch once per route and keep it. */
export interface RouteStats {
  /** Records a finished request; `reason` is a reasons.ts index or NO_REASON. */
  record(
    status: number,
    durationMs: number,
    requestId: string,
    traceId: string,
    reason?: number,
    detail?: RecordDetail,
  ): void;
}

/** Options for {@link StatsCollector}. */
export interface StatsOptions {
  /** Clock in epoch milliseconds (injected for tests). */
  readonly now?: () => number;
  /** Requests at least this slow go to the recent list (default 1000 ms). */
  readonly slowMs?: number;
  /** Size of each recent ring, 5xx-or-slow and 4xx (default 50): a 401 flood cannot push out the 502s. */
  readonly recentSize?: number;
}

/** Minutes of per-minute history kept in process. */
export const MINUTES = 15;
const SECONDS = 60;
const MINUTE_MS = 60_000;

function newSlot(): Slot {
  return { at: -1, ...newAggregate() };
}

/** Moves a ring slot to time `at`, clearing it when it still holds an older period. */
function claim(slot: Slot, at: number): Slot {
  if (slot.at !== at) {
    slot.at = at;
    slot.requests = 0;
    slot.status3xx = 0;
    slot.errors5xx = 0;
    slot.errors4xx = 0;
    slot.rateLimited = 0;
    slot.latency.fill(0);
    slot.reasons.fill(0);
  }
  return slot;
}

/** Adds one request (status, latency bucket, reason index or NO_REASON) to an aggregate. */
export function addRequest(
  slot: Aggregate,
  status: number,
  bucket: number,
  reason: number = NO_REASON,
): void {
  slot.requests++;
  if (status >= 500) slot.errors5xx++;
  else if (status >= 400) slot.errors4xx++;
  else if (status >= 300) slot.status3xx++;
  if (status === 429) slot.rateLimited++;
  slot.latency[bucket] = (slot.latency[bucket] as number) + 1;
  if (reason !== NO_REASON) slot.reasons[reason] = (slot.reasons[reason] as number) + 1;
}

/** Sums aggregates into a window summary. */
export function summarize(aggregates: Iterable<Aggregate>): WindowSummary {
  let requests = 0;
  let errors5xx = 0;
  let errors4xx = 0;
  const latency = newSketch();
  for (const a of aggregates) {
    requests += a.requests;
    errors5xx += a.errors5xx;
    errors4xx += a.errors4xx;
    mergeSketch(latency, a.latency);
  }
  return {
    requests,
    errors5xx,
    errors4xx,
    errorRatio: requests === 0 ? 0 : errors5xx / requests,
    p50Ms: quantileMs(latency, 0.5),
    p99Ms: quantileMs(latency, 0.99),
  };
}

/** Listener for every recorded request (the Redis history flusher subscribes). */
export type RecordListener = (
  route: string,
  minute: number,
  status: number,
  bucket: number,
  reason: number,
  sub: string | undefined,
) => void;

type RecordInto = (
  ring: RouteRing,
  status: number,
  durationMs: number,
  requestId: string,
  traceId: string,
  reason: number,
  detail: RecordDetail | undefined,
) => void;

/** A fixed-size ring of failure rows, newest last written. */
class RecentRing {
  readonly #rows: Array<RecentRequest | undefined>;
  #next = 0;
  constructor(size: number) {
    this.#rows = new Array(size).fill(undefined);
  }
  push(row: RecentRequest): void {
    this.#rows[this.#next] = row;
    this.#next = (this.#next + 1) % this.#rows.length;
  }
  /** Appends the rows oldest first. */
  addTo(out: RecentRequest[]): void {
    const size = this.#rows.length;
    for (let i = 0; i < size; i++) {
      const row = this.#rows[(this.#next + i) % size];
      if (row !== undefined) out.push(row);
    }
  }
}

class RouteRing implements RouteStats {
  readonly minutes: Slot[] = Array.from({ length: MINUTES }, newSlot);
  readonly seconds: Slot[] = Array.from({ length: SECONDS }, newSlot);

  constructor(
    readonly name: string,
    private readonly into: RecordInto,
  ) {}

  record(
    status: number,
    durationMs: number,
    requestId: string,
    traceId: string,
    reason: number = NO_REASON,
    detail?: RecordDetail,
  ): void {
    this.into(this, status, durationMs, requestId, traceId, reason, detail);
  }
}

/**
 * Rolling statistics of one gateway process. Recording is a few array writes into preallocated rings;
 * reading (dashboard every 2 s, alerts every few seconds) does the summing.
 */
export class StatsCollector {
  readonly #now: () => number;
  readonly #slowMs: number;
  readonly #failed: RecentRing;
  readonly #refused: RecentRing;
  readonly #routes = new Map<string, RouteRing>();
  readonly #instances = new Map<string, Map<string, InstanceStats>>();
  #listener: RecordListener | undefined;
  #instanceListener: InstanceListener | undefined;
  readonly #onAttempt: InstanceListener = (instance, minute, outcome) =>
    this.#instanceListener?.(instance, minute, outcome);
  /** Requests and 429s per consumer (`sub`), per minute. */
  readonly consumers: ConsumerCounts;
  readonly #recordInto: RecordInto = (
    ring,
    status,
    durationMs,
    requestId,
    traceId,
    reason,
    detail,
  ) => {
    const now = this.#now();
    const second = Math.floor(now / 1000);
    const minute = Math.floor(now / MINUTE_MS);
    const bucket = bucketIndex(durationMs);
    const sub = detail?.sub;
    addRequest(claim(ring.seconds[second % SECONDS] as Slot, second), status, bucket, reason);
    addRequest(claim(ring.minutes[minute % MINUTES] as Slot, minute), status, bucket, reason);
    if (sub !== undefined) this.consumers.add(minute, sub, status === 429);
    this.#listener?.(ring.name, minute * MINUTE_MS, status, bucket, reason, sub);
    if (status >= 400 || durationMs >= this.#slowMs) {
      const row: RecentRequest = {
        at: now,
        requestId,
        traceId,
        route: ring.name,
        method: detail?.method ?? '',
        path: detail?.path ?? '',
        instance: detail?.instance,
        status,
        reason: reason === NO_REASON ? undefined : REASONS[reason],
        upstreamFailure: detail?.reason,
        message: detail?.error,
        attempts: detail?.attempts ?? 0,
        sub,
        durationMs,
      };
      (status >= 400 && status < 500 ? this.#refused : this.#failed).push(row);
    }
  };

  constructor(options: StatsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#slowMs = options.slowMs ?? 1000;
    this.#failed = new RecentRing(options.recentSize ?? 50);
    this.#refused = new RecentRing(options.recentSize ?? 50);
    this.consumers = new ConsumerCounts(MINUTES);
  }

  /** The recorder of one route (created on first use). */
  route(name: string): RouteStats {
    let ring = this.#routes.get(name);
    if (ring === undefined) {
      ring = new RouteRing(name, this.#recordInto);
      this.#routes.set(name, ring);
    }
    return ring;
  }

  /** Names of routes that have recorded anything. */
  routeNames(): string[] {
    return [...this.#routes.keys()];
  }

  /** Subscribes the single record listeners (the Redis history flusher). */
  onRecord(listener: RecordListener | undefined, instanceListener?: InstanceListener): void {
    this.#listener = listener;
    this.#instanceListener = instanceListener;
  }

  /** The attempt recorder of one upstream instance (created on first use). */
  instance(service: string, id: string): InstanceStats {
    let stats = this.#instances.get(service)?.get(id);
    if (stats === undefined) {
      this.#forgetIdleInstances();
      stats = new InstanceStats(service, id, this.#now, this.#onAttempt);
      let byId = this.#instances.get(service);
      if (byId === undefined) this.#instances.set(service, (byId = new Map()));
      byId.set(id, stats);
    }
    return stats;
  }

  /** The recorder of an instance if it has one (a read never creates one). */
  findInstance(service: string, id: string): InstanceStats | undefined {
    return this.#instances.get(service)?.get(id);
  }

  /**
   * Registered instances come and go (every deploy brings new ids): when a new one appears, recorders
   * without an attempt in the kept minutes are dropped, so memory follows the live set, not history.
   */
  #forgetIdleInstances(): void {
    const oldest = Math.floor(this.#now() / MINUTE_MS) - MINUTES;
    for (const [service, byId] of this.#instances) {
      for (const [id, stats] of byId) if (stats.lastMinute < oldest) byId.delete(id);
      if (byId.size === 0) this.#instances.delete(service);
    }
  }

  /** Every instance recorder created so far. */
  *instances(): Generator<InstanceStats> {
    for (const byId of this.#instances.values()) yield* byId.values();
  }

  /** Aggregates of a route's minutes in [fromMinute, toMinute] (minute numbers, not ms) still held in process. */
  minuteAggregates(
    route: string,
    fromMinute: number,
    toMinute: number,
  ): Array<{ minute: number; aggregate: Aggregate }> {
    const ring = this.#routes.get(route);
    const out: Array<{ minute: number; aggregate: Aggregate }> = [];
    if (ring === undefined) return out;
    for (const slot of ring.minutes)
      if (slot.at >= fromMinute && slot.at <= toMinute)
        out.push({ minute: slot.at * MINUTE_MS, aggregate: slot });
    return out;
  }

  /** A route's summary over the trailing `seconds` (<= 60), including the current second. */
  window(route: string, seconds: number): WindowSummary {
    const ring = this.#routes.get(route);
    if (ring === undefined) return summarize([]);
    const current = Math.floor(this.#now() / 1000);
    return summarize(
      ring.seconds.filter((slot) => slot.at > current - seconds && slot.at <= current),
    );
  }

  /** Requests per second over the last `seconds` complete seconds (the live rate). */
  rate(route: string, seconds = 5): number {
    const ring = this.#routes.get(route);
    if (ring === undefined) return 0;
    const current = Math.floor(this.#now() / 1000);
    let requests = 0;
    for (const slot of ring.seconds)
      if (slot.at >= current - seconds && slot.at < current) requests += slot.requests;
    return requests / seconds;
  }

  /** Recent slow or failed requests (5xx, slow, and 4xx from their own ring), newest first. */
  recent(): RecentRequest[] {
    const out: RecentRequest[] = [];
    this.#failed.addTo(out);
    this.#refused.addTo(out);
    // Stable: rows of the same millisecond keep their recording order, reversed below.
    return out.sort((a, b) => a.at - b.at).reverse();
  }
}
