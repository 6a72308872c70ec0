/** The revocation list: jtis revoked until their token expires, checked synchronously from a local copy. */
import type { RedisClient, StoreBackend } from '../store/backend.js';
import { defineScript, type ScriptCommand } from '../store/lua-script.js';
import { listen } from './channel.js';

/** Redis key of the list and the channel its additions are pushed on. */
export const REVOCATIONS_KEY = 'edgeway:{revocations}:set';
export const REVOCATIONS_CHANNEL = 'edgeway:{revocations}:changes';

/** What the gateway, the admin API and the CLI use; every backend passes one contract suite. */
export interface RevocationList {
  /** Revokes `jti` until `expiresAt` (ms since epoch), everywhere. */
  revoke(jti: string, expiresAt: number): Promise<void>;
  /** Whether `jti` is revoked, from this process's copy (no I/O on the request path). */
  isRevoked(jti: string): boolean;
  /** Calls `listener` for every revocation this process learns of, local or remote. */
  onRevoked(listener: (jti: string) => void): void;
  close(): Promise<void>;
}

/** The in-process copy both backends keep. */
class LocalRevocations {
  readonly #now: () => number;
  readonly #revoked = new Map<string, number>();
  readonly #listeners: Array<(jti: string) => void> = [];

  constructor(now: () => number) {
    this.#now = now;
  }

  isRevoked(jti: string): boolean {
    const expiresAt = this.#revoked.get(jti);
    return expiresAt !== undefined && expiresAt > this.#now();
  }

  onRevoked(listener: (jti: string) => void): void {
    this.#listeners.push(listener);
  }

  /** The revocations this process knows of that have not expired: jti and expiry (ms since epoch). */
  protected known(): Array<[string, number]> {
    const now = this.#now();
    return [...this.#revoked].filter(([, until]) => until > now);
  }

  protected remember(jti: string, expiresAt: number): void {
    const now = this.#now();
    if (expiresAt <= now) return;
    for (const [known, until] of this.#revoked) if (until <= now) this.#revoked.delete(known);
    const known = this.#revoked.get(jti);
    this.#revoked.set(jti, Math.max(expiresAt, known ?? 0));
    // Listeners hear of a revocation once, whether the local call, the pushed message or a reload comes first.
    if (known === undefined) for (const listener of this.#listeners) listener(jti);
  }
}

/** Refuses ids that cannot be a jti edgeway or a sane IdP issued (bounds what the list stores). */
export function checkJti(jti: string): void {
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256)
    throw new RangeError('jti must be 1 to 256 characters');
}

/** Memory mode: one process, so the local copy is the list. */
export class MemoryRevocations extends LocalRevocations implements RevocationList {
  async revoke(jti: string, expiresAt: number): Promise<void> {
    checkJti(jti);
    this.remember(jti, expiresAt);
  }

  async close(): Promise<void> {}
}

/** Redis mode: a sorted set shared by all gateways, pushed to each by pub/sub and fully re-read on reconnect. */
export class RedisRevocations extends LocalRevocations implements RevocationList {
  readonly #redis: RedisClient;
  readonly #add: ScriptCommand<unknown>;
  readonly #onError: (err: unknown) => void;
  #stop: (() => Promise<void>) | undefined;

  private constructor(redis: RedisClient, now: () => number, onError: (err: unknown) => void) {
    super(now);
    this.#redis = redis;
    this.#onError = onError;
    this.#add = defineScript(redis, 'edgewayRevocationAdd', 'revocation-add.lua', 1);
  }

  /** Loads the whole list, then follows additions. */
  static async open(
    redis: RedisClient,
    subscriber: RedisClient,
    now: () => number,
    onError: (err: unknown) => void,
  ): Promise<RedisRevocations> {
    const list = new RedisRevocations(redis, now, onError);
    list.#stop = await listen(subscriber, REVOCATIONS_CHANNEL, {
      onMessage: (message) => list.#receive(message),
      onReconnect: () => {
        list.loadAll().catch(list.#onError);
      },
      onError: onError,
    });
    await list.loadAll();
    return list;
  }

  async revoke(jti: string, expiresAt: number): Promise<void> {
    checkJti(jti);
    await this.#add(REVOCATIONS_KEY, jti, Math.ceil(expiresAt), REVOCATIONS_CHANNEL);
    this.remember(jti, expiresAt);
  }

  /**
   * Re-reads every unexpired entry: what was published while the subscriber was away is not lost. Entries
   * this process knows of but Redis lost (restarted without persistence) are written back: a revocation
   * can only be added, so putting one back never grants anything.
   */
  async loadAll(): Promise<void> {
    const flat = await this.#redis.zrangebyscore(REVOCATIONS_KEY, '-inf', '+inf', 'WITHSCORES');
    const stored = new Set<string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      stored.add(flat[i] as string);
      this.remember(flat[i] as string, Number(flat[i + 1]));
    }
    for (const [jti, expiresAt] of this.known()) {
      if (!stored.has(jti))
        await this.#add(REVOCATIONS_KEY, jti, Math.ceil(expiresAt), REVOCATIONS_CHANNEL);
    }
  }

  async close(): Promise<void> {
    await this.#stop?.();
  }

  #receive(message: string): void {
    const space = message.indexOf(' ');
    const expiresAt = Number(message.slice(0, space));
    if (space > 0 && Number.isFinite(expiresAt)) this.remember(message.slice(space + 1), expiresAt);
  }
}

/** The revocation list of a backend. */
export async function openRevocations(
  backend: StoreBackend,
  now: () => number = Date.now,
  onError: (err: unknown) => void = () => undefined,
): Promise<RevocationList> {
  if (backend.kind === 'memory') return new MemoryRevocations(now);
  return RedisRevocations.open(backend.redis, backend.subscriber, now, onError);
}
