/** Shared per-minute history in Redis: every gateway flushes its deltas, the dashboard reads the merged sums. */
import type { Logger } from 'pino';
import type { RedisClient } from '../store/backend.js';
import { defineScript, type ScriptCommand } from '../store/lua-script.js';
import { LATENCY_BUCKETS, newSketch } from './latency-sketch.js';
import { MINUTES, addRequest, minutePoint, type Aggregate, type MinutePoint, type StatsCollector } from './stats.js';

/** History kept after a minute starts: 25 h, so a full 24 h window is always complete. */
export const HISTORY_RETENTION_MS = 25 * 3_600_000;
const MINUTE_MS = 60_000;

/** The Redis key of one route's minute (hash-tagged per route: one route's minutes share a cluster slot). */
export function historyKey(route: string, minuteStart: number): string {
  return `edgeway:{history:${route}}:${minuteStart}`;
}

function emptyAggregate(): Aggregate {
  return { requests: 0, errors5xx: 0, errors4xx: 0, rateLimited: 0, latency: newSketch() };
}

/**
 * Collects this process's per-minute deltas and adds them to Redis every `flushMs` with one Lua call per
 * route-minute (HINCRBY is commutative, so any number of gateways merge into the same hashes).
 */
export class RedisHistory {
  readonly #redis: RedisClient;
  readonly #add: ScriptCommand<number>;
  readonly #flushMs: number;
  // route -> minute start -> delta not yet in Redis. Nested maps: no key string built per request.
  #pending = new Map<string, Map<number, Aggregate>>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  readonly #logger: Logger;

  constructor(redis: RedisClient, stats: StatsCollector, options: { logger: Logger; flushMs?: number }) {
    this.#redis = redis;
    this.#logger = options.logger;
    this.#add = defineScript<number>(redis, 'edgewayHistoryAdd', 'history-add.lua', 1);
    this.#flushMs = options.flushMs ?? 5000;
    stats.onRecord((route, minute, status, bucket) => {
      let byMinute = this.#pending.get(route);
      if (byMinute === undefined) {
        byMinute = new Map();
        this.#pending.set(route, byMinute);
      }
      let delta = byMinute.get(minute);
      if (delta === undefined) {
        delta = emptyAggregate();
        byMinute.set(minute, delta);
      }
      addRequest(delta, status, bucket);
    });
  }

  /** Starts the periodic flush (unref'd: it never keeps the process alive). */
  start(): void {
    this.#timer ??= setInterval(() => {
      this.flush().catch((err: unknown) => this.#logger.warn({ err }, 'history flush failed'));
    }, this.#flushMs);
    this.#timer.unref();
  }

  /** Stops the timer and flushes what is pending. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Sends pending deltas. On failure they are put back (and merged with newer ones) for the next flush. */
  flush(): Promise<void> {
    // Chained so flushes never overlap; a failed flush must not poison the chain (its caller saw the error).
    const run = (): Promise<void> => this.#flushOnce();
    this.#flushing = this.#flushing.then(run, run);
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    const batch = this.#pending;
    if (batch.size === 0) return;
    this.#pending = new Map();
    const sends: Array<Promise<unknown>> = [];
    for (const [route, byMinute] of batch) {
      for (const [minute, delta] of byMinute) {
        const args: Array<string | number> = [historyKey(route, minute), minute, HISTORY_RETENTION_MS, 'requests', delta.requests, 'e5', delta.errors5xx, 'e4', delta.errors4xx, 'rl', delta.rateLimited];
        for (let i = 0; i < LATENCY_BUCKETS; i++) if (delta.latency[i] !== 0) args.push(`l${i}`, delta.latency[i] as number);
        sends.push(this.#add(...args));
      }
    }
    const results = await Promise.allSettled(sends);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      this.#restore(batch);
      throw failed.reason;
    }
  }

  /** Puts an unsent batch back. Partially sent batches may then double-count a minute: an accepted trade-off. */
  #restore(batch: Map<string, Map<number, Aggregate>>): void {
    const oldest = Date.now() - HISTORY_RETENTION_MS;
    for (const [route, byMinute] of batch) {
      for (const [minute, delta] of byMinute) {
        if (minute < oldest) continue;
        let current = this.#pending.get(route);
        if (current === undefined) {
          current = new Map();
          this.#pending.set(route, current);
        }
        const existing = current.get(minute);
        if (existing === undefined) {
          current.set(minute, delta);
        } else {
          existing.requests += delta.requests;
          existing.errors5xx += delta.errors5xx;
          existing.errors4xx += delta.errors4xx;
          existing.rateLimited += delta.rateLimited;
          for (let i = 0; i < LATENCY_BUCKETS; i++) existing.latency[i] = (existing.latency[i] as number) + (delta.latency[i] as number);
        }
      }
    }
  }

  /**
   * The merged per-minute series of a route (all gateways), oldest first: `minutes` points ending at the
   * minute containing `now`. One pipeline per route; its keys share a slot, so this works on Cluster.
   */
  async series(route: string, now: number, minutes = MINUTES): Promise<MinutePoint[]> {
    const current = Math.floor(now / MINUTE_MS) * MINUTE_MS;
    const starts = Array.from({ length: minutes }, (_, i) => current - (minutes - 1 - i) * MINUTE_MS);
    const pipeline = this.#redis.pipeline();
    for (const start of starts) pipeline.hgetall(historyKey(route, start));
    const replies = (await pipeline.exec()) ?? [];
    return starts.map((start, i) => {
      const [err, raw] = replies[i] ?? [null, {}];
      if (err !== null) throw err;
      const fields = raw as Record<string, string>;
      if (fields.requests === undefined) return minutePoint(start, undefined);
      const aggregate = emptyAggregate();
      aggregate.requests = Number(fields.requests);
      aggregate.errors5xx = Number(fields.e5 ?? 0);
      aggregate.errors4xx = Number(fields.e4 ?? 0);
      aggregate.rateLimited = Number(fields.rl ?? 0);
      for (let b = 0; b < LATENCY_BUCKETS; b++) aggregate.latency[b] = Number(fields[`l${b}`] ?? 0);
      return minutePoint(start, aggregate);
    });
  }
}
