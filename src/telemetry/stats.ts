/** In-process rolling per-route statistics: 15 per-minute buckets, 60 per-second buckets, recent slow/failed requests. */
import { bucketIndex, mergeSketch, newSketch, quantileMs } from './latency-sketch.js';

/** Counts of one time bucket (a minute or a second). */
export interface Aggregate {
  requests: number;
  errors5xx: number;
  errors4xx: number;
  /** 429 answers (rate-limit rejections; also counted in errors4xx). */
  rateLimited: number;
  readonly latency: Uint32Array;
}

interface Slot extends Aggregate { at: number }

/** One point of a route's per-minute series. */
export interface MinutePoint {
  /** Minute start, epoch milliseconds. */
  readonly minute: number;
  readonly requests: number;
  readonly errors5xx: number;
  readonly errors4xx: number;
  readonly rateLimited: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
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
  readonly status: number;
  readonly durationMs: number;
}

/** Per-route recorder; fetch once per route and keep it. */
export interface RouteStats {
  /** Records a finished request. */
  record(status: number, durationMs: number, requestId: string, traceId: string): void;
}

/** Options for {@link StatsCollector}. */
export interface StatsOptions {
  /** Clock in epoch milliseconds (injected for tests). */
  readonly now?: () => number;
  /** Requests at least this slow go to the recent list (default 1000 ms). */
  readonly slowMs?: number;
  /** Size of the recent slow/failed ring (default 50). */
  readonly recentSize?: number;
}

/** Minutes of per-minute history kept in process. */
export const MINUTES = 15;
const SECONDS = 60;
const MINUTE_MS = 60_000;

function newSlot(): Slot {
  return { at: -1, requests: 0, errors5xx: 0, errors4xx: 0, rateLimited: 0, latency: newSketch() };
}

/** Moves a ring slot to time `at`, clearing it when it still holds an older period. */
function claim(slot: Slot, at: number): Slot {
  if (slot.at !== at) {
    slot.at = at;
    slot.requests = 0;
    slot.errors5xx = 0;
    slot.errors4xx = 0;
    slot.rateLimited = 0;
    slot.latency.fill(0);
  }
  return slot;
}

/** Adds one request (status, latency bucket) to an aggregate. */
export function addRequest(slot: Aggregate, status: number, bucket: number): void {
  slot.requests++;
  if (status >= 500) slot.errors5xx++;
  else if (status >= 400) slot.errors4xx++;
  if (status === 429) slot.rateLimited++;
  slot.latency[bucket] = (slot.latency[bucket] as number) + 1;
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
  return { requests, errors5xx, errors4xx, errorRatio: requests === 0 ? 0 : errors5xx / requests, p50Ms: quantileMs(latency, 0.5), p99Ms: quantileMs(latency, 0.99) };
}

/** Listener for every recorded request (the Redis history flusher subscribes). */
export type RecordListener = (route: string, minute: number, status: number, bucket: number) => void;

type RecordInto = (ring: RouteRing, status: number, durationMs: number, requestId: string, traceId: string) => void;

class RouteRing implements RouteStats {
  readonly minutes: Slot[] = Array.from({ length: MINUTES }, newSlot);
  readonly seconds: Slot[] = Array.from({ length: SECONDS }, newSlot);

  constructor(readonly name: string, private readonly into: RecordInto) {}

  record(status: number, durationMs: number, requestId: string, traceId: string): void {
    this.into(this, status, durationMs, requestId, traceId);
  }
}

/**
 * Rolling statistics of one gateway process. Recording is a few array writes into preallocated rings;
 * reading (dashboard every 2 s, alerts every few seconds) does the summing.
 */
export class StatsCollector {
  readonly #now: () => number;
  readonly #slowMs: number;
  readonly #recent: Array<RecentRequest | undefined>;
  #recentNext = 0;
  readonly #routes = new Map<string, RouteRing>();
  #listener: RecordListener | undefined;
  readonly #recordInto: RecordInto = (ring, status, durationMs, requestId, traceId) => {
    const now = this.#now();
    const second = Math.floor(now / 1000);
    const minute = Math.floor(now / MINUTE_MS);
    const bucket = bucketIndex(durationMs);
    addRequest(claim(ring.seconds[second % SECONDS] as Slot, second), status, bucket);
    addRequest(claim(ring.minutes[minute % MINUTES] as Slot, minute), status, bucket);
    this.#listener?.(ring.name, minute * MINUTE_MS, status, bucket);
    if (status >= 500 || durationMs >= this.#slowMs) {
      this.#recent[this.#recentNext] = { at: now, requestId, traceId, route: ring.name, status, durationMs };
      this.#recentNext = (this.#recentNext + 1) % this.#recent.length;
    }
  };

  constructor(options: StatsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#slowMs = options.slowMs ?? 1000;
    this.#recent = new Array(options.recentSize ?? 50).fill(undefined);
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

  /** Subscribes the single record listener (the Redis history flusher). */
  onRecord(listener: RecordListener | undefined): void {
    this.#listener = listener;
  }

  /** A route's summary over the trailing `seconds` (<= 60), including the current second. */
  window(route: string, seconds: number): WindowSummary {
    const ring = this.#routes.get(route);
    if (ring === undefined) return summarize([]);
    const current = Math.floor(this.#now() / 1000);
    return summarize(ring.seconds.filter((slot) => slot.at > current - seconds && slot.at <= current));
  }

  /** Requests per second over the last `seconds` complete seconds (the live rate). */
  rate(route: string, seconds = 5): number {
    const ring = this.#routes.get(route);
    if (ring === undefined) return 0;
    const current = Math.floor(this.#now() / 1000);
    let requests = 0;
    for (const slot of ring.seconds) if (slot.at >= current - seconds && slot.at < current) requests += slot.requests;
    return requests / seconds;
  }

  /** A route's last {@link MINUTES} minutes, oldest first, with empty minutes as zero points. */
  minuteSeries(route: string): MinutePoint[] {
    const ring = this.#routes.get(route);
    const current = Math.floor(this.#now() / MINUTE_MS);
    const points: MinutePoint[] = [];
    for (let m = current - MINUTES + 1; m <= current; m++) {
      const slot = ring?.minutes[m % MINUTES];
      points.push(slot !== undefined && slot.at === m ? minutePoint(m * MINUTE_MS, slot) : minutePoint(m * MINUTE_MS, undefined));
    }
    return points;
  }

  /** Recent slow or failed requests, newest first. */
  recent(): RecentRequest[] {
    const out: RecentRequest[] = [];
    const size = this.#recent.length;
    for (let i = 1; i <= size; i++) {
      const entry = this.#recent[(this.#recentNext - i + size) % size];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }
}

/** A minute point from an aggregate (or an empty one). */
export function minutePoint(minute: number, aggregate: Aggregate | undefined): MinutePoint {
  if (aggregate === undefined) return { minute, requests: 0, errors5xx: 0, errors4xx: 0, rateLimited: 0, p50Ms: undefined, p99Ms: undefined };
  return {
    minute,
    requests: aggregate.requests,
    errors5xx: aggregate.errors5xx,
    errors4xx: aggregate.errors4xx,
    rateLimited: aggregate.rateLimited,
    p50Ms: quantileMs(aggregate.latency, 0.5),
    p99Ms: quantileMs(aggregate.latency, 0.99),
  };
}
