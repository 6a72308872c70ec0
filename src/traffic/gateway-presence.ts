/** Gateway presence: each gateway heartbeats into edgeway:{presence} so every one knows how many are alive. */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../store/backend.js';
import { defineScript, type ScriptCommand } from '../store/lua-script.js';
import { withDeadline } from '../store/deadline.js';

/** The presence zset: gateway id -> ms of its last heartbeat (Redis TIME). */
export const PRESENCE_KEY = 'edgeway:{presence}';

/** Options of a presence heartbeat. */
export interface GatewayPresenceOptions {
  readonly redis: RedisClient;
  /** This gateway's id; defaults to `<hostname>:<pid>:<random>`, unique per process. */
  readonly id?: string;
  /** Ms between heartbeats (default 1000). */
  readonly intervalMs?: number;
  /** A gateway unseen for this many ms is no longer counted (default 3000, three missed beats). */
  readonly windowMs?: number;
  /** Ms a heartbeat may take before it counts as failed (default 250). */
  readonly budgetMs?: number;
}

/** Counters the metrics module reads. */
export interface PresenceCounters {
  heartbeats: number;
  failures: number;
}

/**
 * Heartbeats this gateway and keeps the live gateway count from the reply. While Redis is away the
 * last known count is kept (the local fallback buckets are sized by it, so it must not jump to 1).
 */
export class GatewayPresence {
  readonly id: string;
  readonly counters: PresenceCounters = { heartbeats: 0, failures: 0 };
  readonly #redis: RedisClient;
  readonly #intervalMs: number;
  readonly #windowMs: number;
  readonly #budgetMs: number;
  readonly #heartbeat: ScriptCommand<number>;
  #liveCount = 1;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: GatewayPresenceOptions) {
    this.#redis = options.redis;
    this.id = options.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#windowMs = options.windowMs ?? 3000;
    this.#budgetMs = options.budgetMs ?? 250;
    this.#heartbeat = defineScript<number>(
      options.redis,
      'edgewayPresenceHeartbeat',
      'presence-heartbeat.lua',
      1,
    );
  }

  /** Live gateways (this one included) as of the last successful heartbeat; at least 1. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** Sends one heartbeat; resolves to the live count, or undefined when Redis did not answer in time. */
  async beat(): Promise<number | undefined> {
    try {
      const count = await withDeadline(
        this.#heartbeat(PRESENCE_KEY, this.id, this.#windowMs),
        this.#budgetMs,
      );
      this.counters.heartbeats += 1;
      this.#liveCount = Math.max(1, count);
      return this.#liveCount;
    } catch {
      this.counters.failures += 1;
      return undefined;
    }
  }

  /** Heartbeats now and every interval until stop(); the timer does not keep the process alive. */
  async start(): Promise<void> {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.beat(), this.#intervalMs);
    this.#timer.unref();
    await this.beat();
  }

  /** Stops heart-beating and removes this gateway at once, so the others resize within one beat. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await withDeadline(this.#redis.zrem(PRESENCE_KEY, this.id), this.#budgetMs).catch(
      () => undefined,
    );
  }
}
