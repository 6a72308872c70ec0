/** The registry's in-process view: frozen per-service lists rebuilt only on change, and change listeners. */
import { sameRegistration, type InstanceRecord } from './instance.js';
import type { InstancePolicy } from './instance-policy.js';
import type { RegistryLogger } from './registry.js';

const EMPTY: readonly InstanceRecord[] = Object.freeze([]);
const NO_SERVICES: readonly string[] = Object.freeze([]);

/** Reports a listener that threw, so one bad listener cannot stop the others or the sync loop. */
export type ListenerErrorHandler = (err: unknown) => void;

/** Reports an instance the policy keeps out of the view, with the reason. */
export type RefusalHandler = (record: InstanceRecord, reason: string) => void;

/**
 * Per-service frozen arrays that `list()` hands out as they are, so a lookup allocates nothing. Only
 * instances the policy admits are listed; the rest are held so that a new policy can admit them.
 */
export class LocalView {
  private readonly lists = new Map<string, readonly InstanceRecord[]>();
  private readonly held = new Map<string, readonly InstanceRecord[]>();
  private serviceNames: readonly string[] = NO_SERVICES;
  private readonly listeners = new Set<(service: string) => void>();
  private policy: InstancePolicy | undefined;
  /** "service/id url" of refused instances already reported, so a heartbeat does not report again. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly onListenerError: ListenerErrorHandler,
    private readonly onRefused: RefusalHandler,
  ) {}

  /** Lists only instances `policy` admits from now on, re-checking every instance held. */
  restrict(policy: InstancePolicy): void {
    this.policy = policy;
    this.reported.clear();
    for (const [service, records] of [...this.held]) this.publish(service, records);
  }

  /** The instances of a service, sorted by id; the same array until the service changes. */
  list(service: string): readonly InstanceRecord[] {
    return this.lists.get(service) ?? EMPTY;
  }

  /** Services with at least one instance, sorted. */
  services(): readonly string[] {
    return this.serviceNames;
  }

  /** Adds a listener called with a service name after its instances changed; returns the unsubscribe. */
  onChange(listener: (service: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Replaces the instances of a service. Listeners hear of it only when an instance came, went or changed;
   * an expiry that merely moved (a heartbeat) refreshes the array silently.
   */
  replace(service: string, records: readonly InstanceRecord[]): void {
    if (records.length === 0) this.held.delete(service);
    else this.held.set(service, records);
    this.publish(service, records);
  }

  private admitted(records: readonly InstanceRecord[]): readonly InstanceRecord[] {
    const policy = this.policy;
    if (policy === undefined) return records;
    return records.filter((record) => {
      const reason = policy.refusal(record.url);
      const key = `${record.service}/${record.id} ${record.url}`;
      if (reason !== undefined && !this.reported.has(key)) {
        this.reported.add(key);
        this.onRefused(record, reason);
      }
      return reason === undefined;
    });
  }

  private publish(service: string, records: readonly InstanceRecord[]): void {
    const before = this.list(service);
    const after = [...this.admitted(records)].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
    const changed =
      before.length !== after.length ||
      before.some((rec, i) => !sameRegistration(rec, after[i] as InstanceRecord));
    const moved =
      changed || before.some((rec, i) => rec.expiresAt !== (after[i] as InstanceRecord).expiresAt);
    if (!moved) return;
    if (after.length === 0) this.lists.delete(service);
    else this.lists.set(service, Object.freeze(after));
    if (before.length === 0 || after.length === 0)
      this.serviceNames = Object.freeze([...this.lists.keys()].sort());
    if (changed) this.emit(service);
  }

  /** Replaces every service at once (a full resync): services missing from `all` are emptied. */
  replaceAll(all: ReadonlyMap<string, readonly InstanceRecord[]>): void {
    for (const service of [...this.held.keys()])
      if (!all.has(service)) this.replace(service, EMPTY);
    for (const [service, records] of all) this.replace(service, records);
  }

  /** Drops every listener (on close). */
  clearListeners(): void {
    this.listeners.clear();
  }

  private emit(service: string): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(service);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}

/** The read side both registries share: lists, services and change listeners served from their LocalView. */
export abstract class LocalViewRegistry {
  protected readonly view: LocalView;

  constructor(logger: RegistryLogger) {
    this.view = new LocalView(
      (err) => logger.warn('registry: a change listener threw', err),
      (record, reason) =>
        logger.warn(`registry: refusing instance ${record.service}/${record.id}: ${reason}`),
    );
  }

  restrict(policy: InstancePolicy): void {
    this.view.restrict(policy);
  }

  list(service: string): readonly InstanceRecord[] {
    return this.view.list(service);
  }

  services(): readonly string[] {
    return this.view.services();
  }

  onChange(listener: (service: string) => void): () => void {
    return this.view.onChange(listener);
  }
}
