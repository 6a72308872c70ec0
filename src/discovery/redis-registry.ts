/** The shared registry: instances in Redis, a local view kept current by a pushed change feed and resyncs. */
import type { StoreBackend } from '../store/backend.js';
import {
  checkRegistration,
  checkTtl,
  NAME_PATTERN,
  type InstanceRecord,
  type InstanceRegistration,
} from './instance.js';
import { LocalViewRegistry } from './local-view.js';
import { encodeRecord, groupReadReply, memberOf } from './record-codec.js';
import {
  defineRegistryCommands,
  REGISTRY_CHANNEL,
  REGISTRY_KEYS,
  type RegistryCommands,
} from './registry-scripts.js';
import {
  consoleLogger,
  type Registry,
  type RegistryLogger,
  type RegistryStatus,
} from './registry.js';

/** Options of a RedisRegistry; defaults meet the SPEC's "every gateway sees a change within 1 s". */
export interface RedisRegistryOptions {
  /** How often this gateway runs the expiry sweep, ms (each run removes and announces expired instances). */
  readonly sweepIntervalMs?: number;
  /** How often the whole registry is re-read, ms, backing up the change feed. */
  readonly reconcileIntervalMs?: number;
  /** Most instances one sweep removes (bounds how long the script holds Redis). */
  readonly sweepLimit?: number;
  /** How long start() waits for a connection still being set up to deliver the first full sync, ms. */
  readonly startWaitMs?: number;
  readonly logger?: RegistryLogger;
}

const DEFAULTS = {
  sweepIntervalMs: 300,
  reconcileIntervalMs: 5000,
  sweepLimit: 500,
  startWaitMs: 5000,
} as const;

type RedisBackend = Extract<StoreBackend, { kind: 'redis' }>;

/** A Registry on Redis, shared by every gateway; see docs/discovery.md for the keys and scripts. */
export class RedisRegistry extends LocalViewRegistry implements Registry {
  private readonly commands: RegistryCommands;
  private readonly options: Required<Omit<RedisRegistryOptions, 'logger'>>;
  private readonly logger: RegistryLogger;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly warnedMembers = new Set<string>();
  private readonly pendingServices = new Set<string>();
  private readonly syncWaiters = new Set<() => void>();
  /** Instances kept through an empty resync after an outage, by member, until they re-register or expire. */
  private readonly retained = new Map<string, InstanceRecord>();
  private pendingFull = false;
  private pump: Promise<void> = Promise.resolve();
  private pumping = false;
  private sweeping = false;
  private started = false;
  private subscribed = false;
  private inSync = false;
  private inOutage = false;
  private lastSyncAt = 0;

  constructor(
    private readonly backend: RedisBackend,
    options: RedisRegistryOptions = {},
  ) {
    const logger = options.logger ?? consoleLogger;
    super(logger);
    this.logger = logger;
    this.options = {
      sweepIntervalMs: options.sweepIntervalMs ?? DEFAULTS.sweepIntervalMs,
      reconcileIntervalMs: options.reconcileIntervalMs ?? DEFAULTS.reconcileIntervalMs,
      sweepLimit: options.sweepLimit ?? DEFAULTS.sweepLimit,
      startWaitMs: options.startWaitMs ?? DEFAULTS.startWaitMs,
    };
    this.commands = defineRegistryCommands(backend.redis);
  }

  async register(rec: InstanceRegistration, ttlMs: number): Promise<void> {
    const reg = checkRegistration(rec);
    await this.commands.registryRegister(
      ...REGISTRY_KEYS,
      reg.service,
      reg.id,
      encodeRecord(reg),
      checkTtl(ttlMs),
      REGISTRY_CHANNEL,
    );
    // Read back so this gateway sees its own write at once, without waiting for the feed.
    await this.refresh(reg.service);
  }

  async deregister(service: string, id: string): Promise<boolean> {
    this.retained.delete(memberOf(service, id));
    const removed = await this.commands.registryDeregister(
      ...REGISTRY_KEYS,
      service,
      id,
      REGISTRY_CHANNEL,
    );
    await this.refresh(service);
    return removed === 1;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { redis, subscriber } = this.backend;
    subscriber.on('message', this.onMessage);
    for (const conn of [redis, subscriber]) {
      conn.on('ready', this.onReady);
      conn.on('close', this.onClose);
      conn.on('error', this.onError);
    }
    this.every(this.options.sweepIntervalMs, () => this.sweep());
    this.every(this.options.reconcileIntervalMs, () => {
      if (this.connected()) this.schedule(true).catch(this.onError);
    });
    if (this.connected()) await this.subscribeAndSync().catch(this.onError);
    // Still connecting: the 'ready' handler syncs; serve nothing rather than wait forever on a dead Redis.
    else await this.firstSync(this.options.startWaitMs);
  }

  async close(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    const { redis, subscriber } = this.backend;
    subscriber.off('message', this.onMessage);
    for (const conn of [redis, subscriber]) {
      conn.off('ready', this.onReady);
      conn.off('close', this.onClose);
      conn.off('error', this.onError);
    }
    this.view.clearListeners();
    for (const wake of this.syncWaiters) wake();
    // The subscriber connection belongs to the backend and may carry other channels: drop only ours.
    if (subscriber.status === 'ready')
      await subscriber.unsubscribe(REGISTRY_CHANNEL).catch(this.onError);
  }

  status(): RegistryStatus {
    const connected = this.connected();
    return {
      backend: 'redis',
      connected,
      lastSyncAt: this.lastSyncAt,
      stale: !connected || !this.inSync,
    };
  }

  private connected(): boolean {
    return this.backend.redis.status === 'ready' && this.backend.subscriber.status === 'ready';
  }

  /** Resolves after the next full sync, or after `ms` (stale then; ioredis 'error' events log why). */
  private firstSync(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.syncWaiters.add(done);
    });
  }

  private every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private readonly onMessage = (channel: string, service: string): void => {
    if (channel !== REGISTRY_CHANNEL || !NAME_PATTERN.test(service)) return;
    this.refresh(service).catch(this.onError);
  };

  private readonly onReady = (): void => {
    if (this.connected()) this.subscribeAndSync().catch(this.onError);
  };

  private readonly onClose = (): void => {
    this.subscribed = this.subscribed && this.backend.subscriber.status === 'ready';
    this.inSync = false;
    this.outage(new Error('connection to Redis closed'));
  };

  private readonly onError = (err: unknown): void => {
    this.outage(err);
  };

  /** Logs the first failure of an outage only; the end of the outage is logged by the next full sync. */
  private outage(err: unknown): void {
    if (this.inOutage || !this.started) return;
    this.inOutage = true;
    this.logger.warn(
      'registry: Redis unreachable; serving the last known instances until it is back',
      err,
    );
  }

  /** SUBSCRIBE first, then read everything: a change published in between is read, never missed. */
  private async subscribeAndSync(): Promise<void> {
    await this.backend.subscriber.subscribe(REGISTRY_CHANNEL);
    this.subscribed = true;
    await this.schedule(true);
  }

  private sweep(): void {
    if (this.sweeping || !this.connected()) return;
    this.sweeping = true;
    this.commands
      .registrySweep(...REGISTRY_KEYS, REGISTRY_CHANNEL, this.options.sweepLimit)
      .catch(this.onError)
      .finally(() => {
        this.sweeping = false;
      });
  }

  private refresh(service: string): Promise<void> {
    this.pendingServices.add(service);
    return this.schedule(false);
  }

  /**
   * Runs reads one at a time so an older read never overwrites a newer one. The returned promise
   * settles after every read pending at the time of the call has been applied.
   */
  private schedule(full: boolean): Promise<void> {
    if (full) this.pendingFull = true;
    if (!this.pumping) {
      this.pumping = true;
      this.pump = this.drain();
    }
    return this.pump;
  }

  private async drain(): Promise<void> {
    try {
      while (this.started && (this.pendingFull || this.pendingServices.size > 0)) {
        if (this.pendingFull) {
          this.pendingFull = false;
          this.pendingServices.clear();
          await this.syncAll();
        } else {
          const services = [...this.pendingServices];
          this.pendingServices.clear();
          const replies = await Promise.all(
            services.map((service) => this.commands.registryRead(...REGISTRY_KEYS, service)),
          );
          services.forEach((service, i) => {
            const fresh = this.withRetained(this.decode(replies[i] ?? []), Date.now(), service);
            this.view.replace(service, fresh.get(service) ?? []);
          });
        }
      }
    } catch (err) {
      // Whatever was pending is re-read in full once Redis answers again.
      this.pendingFull = true;
      this.inSync = false;
      this.outage(err);
    } finally {
      // Cleared before the promise settles, so a caller arriving now starts a new pass.
      this.pumping = false;
    }
  }

  private async syncAll(): Promise<void> {
    const reply = await this.commands.registryRead(...REGISTRY_KEYS, '');
    const fresh = this.decode(reply);
    const now = Date.now();
    if (this.inOutage) this.retainUnexpired(fresh, now);
    this.view.replaceAll(this.withRetained(fresh, now));
    this.lastSyncAt = Date.now();
    this.inSync = this.subscribed && this.connected();
    for (const wake of this.syncWaiters) wake();
    if (this.inOutage && this.inSync) {
      this.inOutage = false;
      this.logger.info('registry: Redis reachable again; instances resynced');
    }
  }

  /**
   * After an outage Redis may come back empty (restarted without persistence). Instances the view still
   * holds whose TTL has not run out are kept until they re-register on their next heartbeat or expire,
   * instead of being dropped for the seconds in between.
   */
  private retainUnexpired(
    fresh: ReadonlyMap<string, readonly InstanceRecord[]>,
    now: number,
  ): void {
    for (const service of this.view.services()) {
      for (const rec of this.view.list(service)) {
        if (rec.expiresAt > now && !fresh.get(service)?.some((r) => r.id === rec.id))
          this.retained.set(memberOf(service, rec.id), rec);
      }
    }
  }

  /** `fresh` plus the retained instances it lacks (of `only` when given); drops retained ones that came back or expired. */
  private withRetained(
    fresh: Map<string, InstanceRecord[]>,
    now: number,
    only?: string,
  ): Map<string, InstanceRecord[]> {
    for (const [key, rec] of this.retained) {
      if (only !== undefined && rec.service !== only) continue;
      const list = fresh.get(rec.service) ?? [];
      if (rec.expiresAt <= now || list.some((r) => r.id === rec.id)) {
        this.retained.delete(key);
        continue;
      }
      fresh.set(rec.service, [...list, rec]);
    }
    return fresh;
  }

  private decode(reply: string[]): Map<string, InstanceRecord[]> {
    return groupReadReply(reply, (member, problem) => {
      if (!this.warnedMembers.has(member)) this.logger.warn(`registry: skipping ${problem}`);
      this.warnedMembers.add(member);
    });
  }
}
