/** The embedded registry for a single gateway process: instances in memory, expired by a sweep timer. */
import {
  checkRegistration,
  checkTtl,
  type InstanceRecord,
  type InstanceRegistration,
} from './instance.js';
import { LocalViewRegistry } from './local-view.js';
import {
  consoleLogger,
  type Registry,
  type RegistryLogger,
  type RegistryStatus,
} from './registry.js';

/** Options of a MemoryRegistry; the defaults suit production, tests inject a clock. */
export interface MemoryRegistryOptions {
  /** Milliseconds since epoch; defaults to Date.now. */
  readonly now?: () => number;
  /** How often expired instances are removed, ms; expiry is visible at most this late. */
  readonly sweepIntervalMs?: number;
  readonly logger?: RegistryLogger;
}

const DEFAULT_SWEEP_INTERVAL_MS = 250;

/** A Registry held in this process only; nothing is shared with other gateways. */
export class MemoryRegistry extends LocalViewRegistry implements Registry {
  private readonly records = new Map<string, Map<string, InstanceRecord>>();
  private readonly now: () => number;
  private readonly sweepIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryRegistryOptions = {}) {
    super(options.logger ?? consoleLogger);
    this.now = options.now ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  }

  async register(rec: InstanceRegistration, ttlMs: number): Promise<void> {
    const reg = checkRegistration(rec);
    const expiresAt = this.now() + checkTtl(ttlMs);
    const instances = this.records.get(reg.service) ?? new Map<string, InstanceRecord>();
    instances.set(reg.id, Object.freeze({ ...reg, expiresAt }));
    this.records.set(reg.service, instances);
    this.publish(reg.service);
  }

  async deregister(service: string, id: string): Promise<boolean> {
    const removed = this.records.get(service)?.delete(id) ?? false;
    if (removed) this.publish(service);
    return removed;
  }

  async start(): Promise<void> {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(), this.sweepIntervalMs);
    // The sweep alone must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.view.clearListeners();
  }

  status(): RegistryStatus {
    return { backend: 'memory', connected: true, lastSyncAt: this.now(), stale: false };
  }

  /** Removes every instance whose expiry has passed; the timer calls it, tests may call it directly. */
  sweep(): void {
    const now = this.now();
    for (const [service, instances] of this.records) {
      let removed = false;
      for (const [id, rec] of instances) {
        if (rec.expiresAt <= now) removed = instances.delete(id) || removed;
      }
      if (removed) this.publish(service);
    }
  }

  private publish(service: string): void {
    const instances = this.records.get(service);
    if (instances !== undefined && instances.size === 0) this.records.delete(service);
    this.view.replace(service, instances === undefined ? [] : [...instances.values()]);
  }
}
