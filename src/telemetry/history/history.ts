/** Shared per-minute history in Redis: every gateway flushes its deltas, the dashboard reads the merged sums. */
import type { Logger } from 'pino';
import type { RedisClient } from '../../store/backend.js';
import { defineScript, type ScriptCommand } from '../../store/lua-script.js';
import {
  addRequest,
  mergeAggregate,
  newAggregate,
  type Aggregate,
  type StatsCollector,
} from './stats.js';
import { ATTEMPT_OUTCOMES, type InstanceStats } from './instance-stats.js';
import { addConsumer, topConsumers, OTHERS, type ConsumerCount } from './consumers.js';
import {
  CONSUMERS,
  GATEWAYS,
  INSTANCES,
  SEP,
  aggregateFields,
  instanceField,
  type Fields,
} from './history-fields.js';

/** History kept after a minute starts: 25 h, so a full 24 h window is always complete. */
export const HISTORY_RETENTION_MS = 25 * 3_600_000;
/** Consumers sent per gateway per minute, by requests and again by 429s; the rest are summed as OTHERS. */
const CONSUMERS_PER_FLUSH = 100;

/** The Redis key of one route's minute (hash-tagged per route: one route's minutes share a cluster slot). */
export function historyKey(route: string, minuteStart: number): string {
  return `edgeway:{history:${route}}:${minuteStart}`;
}

/** How often a gateway prunes the gateway list (each restart adds an id). */
const PRUNE_EVERY_MS = 3_600_000;

/** The hash of gateways: id -> JSON {@link GatewayInfo}, refreshed on every flush, pruned after the retention. */
export const GATEWAYS_KEY = 'edgeway:{gateways}';

/** What a gateway announces about itself. */
export interface GatewayInfo {
  readonly id: string;
  readonly version: string;
  /** Process start, epoch ms. */
  readonly startedAt: number;
  /** Last announcement, epoch ms (a gateway silent for a few flush periods is gone). */
  readonly seenAt: number;
}

/** Options for {@link RedisHistory}. */
export interface RedisHistoryOptions {
  /** Where failed background flushes are logged. */
  readonly logger: Logger;
  /** Flush period, ms (default 5000). */
  readonly flushMs?: number;
  /** This gateway's identity in the fleet view. */
  readonly gateway?: { readonly id: string; readonly version: string; readonly startedAt: number };
}

/**
 * Collects this process's per-minute deltas and adds them to Redis every `flushMs` with one Lua call per
 * hash (HINCRBY is commutative, so any number of gateways merge into the same hashes). Beside one hash
 * per route-minute, each minute has three fleet hashes: per-gateway totals, per-instance attempts and
 * per-consumer counts. Per request, recording touches nested maps only (no key string is built).
 */
export class RedisHistory {
  readonly #redis: RedisClient;
  readonly #add: ScriptCommand<number>;
  readonly #flushMs: number;
  readonly #gateway: NonNullable<RedisHistoryOptions['gateway']>;
  #pending = new Map<string, Map<number, Aggregate>>();
  #instances = new Map<InstanceStats, Map<number, Uint32Array>>();
  #consumers = new Map<number, Map<string, ConsumerCount>>();
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #prunedAt = 0;
  #flushing: Promise<void> = Promise.resolve();

  constructor(redis: RedisClient, stats: StatsCollector, options: RedisHistoryOptions) {
    this.#redis = redis;
    this.#logger = options.logger;
    this.#add = defineScript<number>(redis, 'edgewayHistoryAdd', 'history-add.lua', 1);
    this.#flushMs = options.flushMs ?? 5000;
    this.#gateway = options.gateway ?? {
      id: `gateway-${process.pid}`,
      version: '',
      startedAt: Date.now(),
    };
    stats.onRecord(
      (route, minute, status, bucket, reason, sub) => {
        let byMinute = this.#pending.get(route);
        if (byMinute === undefined) {
          byMinute = new Map();
          this.#pending.set(route, byMinute);
        }
        let delta = byMinute.get(minute);
        if (delta === undefined) {
          delta = newAggregate();
          byMinute.set(minute, delta);
        }
        addRequest(delta, status, bucket, reason);
        if (sub !== undefined) {
          let subs = this.#consumers.get(minute);
          if (subs === undefined) {
            subs = new Map();
            this.#consumers.set(minute, subs);
          }
          addConsumer(subs, sub, 1, status === 429 ? 1 : 0);
        }
      },
      (instance, minute, outcome) => {
        let byMinute = this.#instances.get(instance);
        if (byMinute === undefined) {
          byMinute = new Map();
          this.#instances.set(instance, byMinute);
        }
        let counts = byMinute.get(minute);
        if (counts === undefined) {
          counts = new Uint32Array(ATTEMPT_OUTCOMES.length);
          byMinute.set(minute, counts);
        }
        counts[outcome] = (counts[outcome] as number) + 1;
      },
    );
  }

  /** This gateway's id in the fleet hashes. */
  get gatewayId(): string {
    return this.#gateway.id;
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

  /** Announces this gateway and sends pending deltas. On failure they are put back for the next flush. */
  flush(): Promise<void> {
    // Chained so flushes never overlap; a failed flush must not poison the chain (its caller saw the error).
    const run = (): Promise<void> => this.#flushOnce();
    this.#flushing = this.#flushing.then(run, run);
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    const batch = { routes: this.#pending, instances: this.#instances, consumers: this.#consumers };
    this.#pending = new Map();
    this.#instances = new Map();
    this.#consumers = new Map();
    const hashes = new Map<string, { minute: number; fields: Fields }>();
    const hash = (key: string, minute: number): Fields => {
      let entry = hashes.get(key);
      if (entry === undefined) {
        entry = { minute, fields: new Map() };
        hashes.set(key, entry);
      }
      return entry.fields;
    };
    const gatewayTotals = new Map<number, Aggregate>();
    for (const [route, byMinute] of batch.routes) {
      for (const [minute, delta] of byMinute) {
        const fields = hash(historyKey(route, minute), minute);
        aggregateFields(delta, (field, n) => fields.set(field, n));
        let total = gatewayTotals.get(minute);
        if (total === undefined) gatewayTotals.set(minute, (total = newAggregate()));
        mergeAggregate(total, delta);
      }
    }
    const prefix = `${this.#gateway.id}${SEP}`;
    for (const [minute, total] of gatewayTotals) {
      const fields = hash(historyKey(GATEWAYS, minute), minute);
      aggregateFields(total, (field, n) => fields.set(field, n), prefix);
    }
    for (const [instance, byMinute] of batch.instances) {
      for (const [minute, counts] of byMinute) {
        const fields = hash(historyKey(INSTANCES, minute), minute);
        counts.forEach((n, outcome) => {
          if (n !== 0) fields.set(instanceField(instance.service, instance.id, outcome), n);
        });
      }
    }
    for (const [minute, subs] of batch.consumers) {
      const fields = hash(historyKey(CONSUMERS, minute), minute);
      const kept = new Set(
        [
          ...topConsumers(subs, 'requests', CONSUMERS_PER_FLUSH),
          ...topConsumers(subs, 'rateLimited', CONSUMERS_PER_FLUSH),
        ].map((c) => c.sub),
      );
      const rest = { requests: 0, rateLimited: 0 };
      for (const [sub, count] of subs) {
        const target = kept.has(sub) ? sub : OTHERS;
        if (target === OTHERS) {
          rest.requests += count.requests;
          rest.rateLimited += count.rateLimited;
          continue;
        }
        fields.set(`r${SEP}${sub}`, count.requests);
        if (count.rateLimited !== 0) fields.set(`l${SEP}${sub}`, count.rateLimited);
      }
      if (rest.requests !== 0) fields.set(`r${SEP}${OTHERS}`, rest.requests);
      if (rest.rateLimited !== 0) fields.set(`l${SEP}${OTHERS}`, rest.rateLimited);
    }
    const info: GatewayInfo = { ...this.#gateway, seenAt: Date.now() };
    const sends: Array<Promise<unknown>> = [
      this.#redis.hset(GATEWAYS_KEY, this.#gateway.id, JSON.stringify(info)),
    ];
    if (info.seenAt - this.#prunedAt >= PRUNE_EVERY_MS) {
      this.#prunedAt = info.seenAt;
      sends.push(this.#prune(info.seenAt));
    }
    for (const [key, { minute, fields }] of hashes) {
      if (fields.size === 0) continue;
      const args: Array<string | number> = [key, minute, HISTORY_RETENTION_MS];
      for (const [field, n] of fields) args.push(field, n);
      sends.push(this.#add(...args));
    }
    const results = await Promise.allSettled(sends);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      this.#restore(batch);
      throw failed.reason;
    }
  }

  /** Puts an unsent batch back. Partially sent batches may then double-count a minute: an accepted trade-off. */
  #restore(batch: {
    routes: Map<string, Map<number, Aggregate>>;
    instances: Map<InstanceStats, Map<number, Uint32Array>>;
    consumers: Map<number, Map<string, ConsumerCount>>;
  }): void {
    const oldest = Date.now() - HISTORY_RETENTION_MS;
    for (const [route, byMinute] of batch.routes) {
      for (const [minute, delta] of byMinute) {
        if (minute < oldest) continue;
        let current = this.#pending.get(route);
        if (current === undefined) this.#pending.set(route, (current = new Map()));
        const existing = current.get(minute);
        if (existing === undefined) current.set(minute, delta);
        else mergeAggregate(existing, delta);
      }
    }
    for (const [instance, byMinute] of batch.instances) {
      for (const [minute, counts] of byMinute) {
        if (minute < oldest) continue;
        let current = this.#instances.get(instance);
        if (current === undefined) this.#instances.set(instance, (current = new Map()));
        const existing = current.get(minute);
        if (existing === undefined) current.set(minute, counts);
        else
          for (let i = 0; i < counts.length; i++)
            existing[i] = (existing[i] as number) + (counts[i] as number);
      }
    }
    for (const [minute, subs] of batch.consumers) {
      if (minute < oldest) continue;
      let current = this.#consumers.get(minute);
      if (current === undefined) this.#consumers.set(minute, (current = new Map()));
      for (const [sub, count] of subs) addConsumer(current, sub, count.requests, count.rateLimited);
    }
  }

  /** Forgets gateways silent for longer than the history they could still appear in. */
  async #prune(now: number): Promise<void> {
    const gone = (await this.gateways())
      .filter((info) => info.seenAt < now - HISTORY_RETENTION_MS)
      .map((info) => info.id);
    if (gone.length > 0) await this.#redis.hdel(GATEWAYS_KEY, ...gone);
  }

  /** Gateways that announced themselves, newest announcement first. */
  async gateways(): Promise<GatewayInfo[]> {
    const raw = await this.#redis.hgetall(GATEWAYS_KEY);
    const out: GatewayInfo[] = [];
    for (const value of Object.values(raw)) {
      try {
        out.push(JSON.parse(value) as GatewayInfo);
      } catch {
        // A value another version wrote in a shape this one cannot read: leave it out of the view.
      }
    }
    return out.sort((a, b) => b.seenAt - a.seenAt);
  }

  /** The fields of the minute hashes of `name` (a route or a fleet hash) at each of `starts` (epoch ms), in order. */
  async minuteFields(name: string, starts: readonly number[]): Promise<Fields[]> {
    const pipeline = this.#redis.pipeline();
    for (const start of starts) pipeline.hgetall(historyKey(name, start));
    const replies = (await pipeline.exec()) ?? [];
    return starts.map((_, i) => {
      const [err, raw] = replies[i] ?? [null, {}];
      if (err !== null) throw err;
      const fields: Fields = new Map();
      for (const [field, value] of Object.entries(raw as Record<string, string>))
        fields.set(field, Number(value));
      return fields;
    });
  }
}
