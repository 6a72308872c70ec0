/** Reads history as time buckets for a range: from Redis (all gateways, finished buckets cached) or this process's minutes. */
import { MINUTES, type StatsCollector } from './stats.js';
import type { RedisHistory } from './history.js';
import {
  CONSUMERS,
  GATEWAYS,
  INSTANCES,
  SEP,
  addField,
  aggregateFields,
  instanceField,
  type Fields,
} from './history-fields.js';

/** The dashboard's time ranges: total minutes and minutes per chart point (at most 96 points). */
export const RANGES = {
  '15m': { minutes: 15, bucketMinutes: 1 },
  '1h': { minutes: 60, bucketMinutes: 1 },
  '6h': { minutes: 360, bucketMinutes: 5 },
  '24h': { minutes: 1440, bucketMinutes: 15 },
} as const;
/** A range's name. */
export type RangeName = keyof typeof RANGES;

const MINUTE_MS = 60_000;
/**
 * A minute or bucket is final, and cached, once it ended this long ago: gateways flush every 5 s, so this leaves
 * room for a late flush and some clock skew between gateways.
 */
const FINAL_AFTER_MS = 90_000;

/** Start (epoch ms) of each bucket of `range` ending with the one containing `now`, oldest first. */
export function bucketStarts(range: RangeName, now: number): number[] {
  const { minutes, bucketMinutes } = RANGES[range];
  const size = bucketMinutes * MINUTE_MS;
  const last = Math.floor(now / size) * size;
  const count = minutes / bucketMinutes;
  return Array.from({ length: count }, (_, i) => last - (count - 1 - i) * size);
}

/** Supplies summed fields per bucket for a route or a fleet hash (GATEWAYS, INSTANCES, CONSUMERS). */
export interface BucketSource {
  /** Whether the buckets cover all gateways. */
  readonly fleet: boolean;
  buckets(name: string, range: RangeName, now: number): Promise<Fields[]>;
}

/**
 * Redis history by bucket. Finished buckets are cached whole, and the finished minutes of unfinished
 * buckets one by one, so a poll reads about one minute hash per name whatever the range.
 */
export class RedisBucketSource implements BucketSource {
  readonly fleet = true;
  readonly #history: RedisHistory;
  readonly #buckets = new Map<string, Fields>();
  readonly #minutes = new Map<string, Fields>();
  #sweptAt = 0;

  constructor(history: RedisHistory) {
    this.#history = history;
  }

  async buckets(name: string, range: RangeName, now: number): Promise<Fields[]> {
    this.#sweep(now);
    const { bucketMinutes } = RANGES[range];
    const size = bucketMinutes * MINUTE_MS;
    const starts = bucketStarts(range, now);
    const out: Array<Fields | undefined> = starts.map((start) =>
      this.#buckets.get(cacheKey(name, bucketMinutes, start)),
    );
    const missing: number[] = [];
    const known = new Map<number, Fields>();
    starts.forEach((start, i) => {
      if (out[i] !== undefined) return;
      for (let m = start; m < start + size; m += MINUTE_MS) {
        const cached = this.#minutes.get(cacheKey(name, 1, m));
        if (cached !== undefined) known.set(m, cached);
        else if (m <= now) missing.push(m);
      }
    });
    const read = missing.length === 0 ? [] : await this.#history.minuteFields(name, missing);
    missing.forEach((minute, i) => {
      const fields = read[i] as Fields;
      known.set(minute, fields);
      if (isFinal(minute, MINUTE_MS, now)) this.#minutes.set(cacheKey(name, 1, minute), fields);
    });
    starts.forEach((start, i) => {
      if (out[i] !== undefined) return;
      const fields: Fields = new Map();
      for (let m = start; m < start + size; m += MINUTE_MS)
        for (const [field, n] of known.get(m) ?? []) addField(fields, field, n);
      out[i] = fields;
      if (isFinal(start, size, now))
        this.#buckets.set(cacheKey(name, bucketMinutes, start), fields);
    });
    return out as Fields[];
  }

  /** Drops cached buckets past the longest range and cached minutes past the widest bucket, at most once a minute. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < MINUTE_MS) return;
    this.#sweptAt = now;
    const sweep = (cache: Map<string, Fields>, oldest: number): void => {
      for (const key of cache.keys())
        if (Number(key.slice(key.lastIndexOf('\n') + 1)) < oldest) cache.delete(key);
    };
    sweep(this.#buckets, now - (RANGES['24h'].minutes + RANGES['24h'].bucketMinutes) * MINUTE_MS);
    sweep(this.#minutes, now - 2 * RANGES['24h'].bucketMinutes * MINUTE_MS);
  }
}

/** A period is final once it ended {@link FINAL_AFTER_MS} ago. */
function isFinal(start: number, size: number, now: number): boolean {
  return start + size + FINAL_AFTER_MS <= now;
}

function cacheKey(name: string, bucketMinutes: number, start: number): string {
  return `${name}\n${bucketMinutes}\n${start}`;
}

/** This process's own minutes (the last {@link MINUTES}) as buckets: the view without Redis, or while it is down. */
export class LocalBucketSource implements BucketSource {
  readonly fleet = false;

  constructor(
    private readonly stats: StatsCollector,
    private readonly gatewayId: string,
  ) {}

  async buckets(name: string, range: RangeName, now: number): Promise<Fields[]> {
    const { bucketMinutes } = RANGES[range];
    const size = bucketMinutes * MINUTE_MS;
    const starts = bucketStarts(range, now);
    const index = new Map(starts.map((start, i) => [start, i]));
    const out: Fields[] = starts.map(() => new Map());
    const into = (minuteMs: number): Fields | undefined => {
      const i = index.get(Math.floor(minuteMs / size) * size);
      return i === undefined ? undefined : out[i];
    };
    const current = Math.floor(now / MINUTE_MS);
    const from = current - MINUTES + 1;
    if (name === INSTANCES) {
      for (const instance of this.stats.instances()) {
        for (const [minute, counts] of instance.minutes()) {
          const fields = minute >= from * MINUTE_MS ? into(minute) : undefined;
          if (fields !== undefined)
            counts.forEach((n, outcome) => {
              if (n !== 0)
                addField(fields, instanceField(instance.service, instance.id, outcome), n);
            });
        }
      }
    } else if (name === CONSUMERS) {
      for (let m = from; m <= current; m++) {
        const fields = into(m * MINUTE_MS);
        const counts = this.stats.consumers.minute(m);
        if (fields === undefined || counts === undefined) continue;
        for (const [sub, c] of counts) {
          addField(fields, `r${SEP}${sub}`, c.requests);
          if (c.rateLimited !== 0) addField(fields, `l${SEP}${sub}`, c.rateLimited);
        }
      }
    } else {
      const routes = name === GATEWAYS ? this.stats.routeNames() : [name];
      const prefix = name === GATEWAYS ? `${this.gatewayId}${SEP}` : '';
      for (const route of routes) {
        for (const { minute, aggregate } of this.stats.minuteAggregates(route, from, current)) {
          const fields = into(minute);
          if (fields !== undefined)
            aggregateFields(aggregate, (field, n) => addField(fields, field, n), prefix);
        }
      }
    }
    return out;
  }
}
