/** The service registry interface every discovery backend implements (memory for one process, Redis for many). */
import type { InstanceRecord, InstanceRegistration } from './instance.js';
import type { InstancePolicy } from './instance-policy.js';

/** Where a registry stands with its backend. */
export interface RegistryStatus {
  readonly backend: 'memory' | 'redis';
  /** The backend answers (always true for memory). */
  readonly connected: boolean;
  /** When the local view last matched the backend in full, ms since epoch (0: never). */
  readonly lastSyncAt: number;
  /** The local view may be out of date: `list()` serves the last known set. */
  readonly stale: boolean;
}

/** Where a registry reports trouble it keeps running through (an outage, a malformed record). */
export interface RegistryLogger {
  warn(message: string, detail?: unknown): void;
  info(message: string): void;
}

/**
 * A service registry: instances register with a TTL, heartbeat by registering again, and drop out when
 * the TTL passes. Reads are synchronous from a local view so the request path never waits on the store.
 */
export interface Registry {
  /** Adds or updates an instance and (re)starts its TTL; the heartbeat is the same call. */
  register(rec: InstanceRegistration, ttlMs: number): Promise<void>;
  /** Removes an instance; false when it was not registered. */
  deregister(service: string, id: string): Promise<boolean>;
  /** The instances of a service, sorted by id; a frozen array that stays the same object until a change. */
  list(service: string): readonly InstanceRecord[];
  /** Services with at least one instance, sorted. */
  services(): readonly string[];
  /** Calls `listener` with a service name after its instances came, went or changed; returns the unsubscribe. */
  onChange(listener: (service: string) => void): () => void;
  /**
   * Lists only instances `policy` admits, from now on and at once for those held (refused ones are
   * logged, and listed again should a later policy admit them).
   */
  restrict(policy: InstancePolicy): void;
  /** Loads the current state and starts background work (expiry sweep, change feed, reconciliation). */
  start(): Promise<void>;
  /** Stops background work; connections passed in stay open (their owner closes them). */
  close(): Promise<void>;
  status(): RegistryStatus;
}

/** console, shaped as a RegistryLogger. */
export const consoleLogger: RegistryLogger = {
  warn: (message, detail) =>
    detail === undefined ? console.warn(message) : console.warn(message, detail),
  info: (message) => console.info(message),
};
