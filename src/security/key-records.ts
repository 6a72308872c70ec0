/** Where signing keys live: a Redis hash shared by every gateway, or `<dataDir>/keys.json` in memory mode. */
import { watchFile, unwatchFile } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import type { StoreBackend, RedisClient } from '../store/backend.js';
import { FileLock, readJsonFile, writeJsonFile } from './data-file.js';
import { defineScript, type ScriptCommand } from '../store/lua-script.js';
import { listen } from './channel.js';

/** The signing algorithms edgeway issues with. */
export type SigningAlgorithm = 'ES256' | 'EdDSA';

/** One stored key, private part included; it never leaves the security module. */
export interface KeyRecord {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** ms since epoch */
  readonly createdAt: number;
  readonly current: boolean;
  /** ms since epoch after which the key no longer verifies; set when a newer key replaced it. */
  readonly retireAfter?: number;
  readonly privateJwk: JWK;
}

/** A new key to add: the store stamps createdAt and the current flag. */
export type NewKey = Pick<KeyRecord, 'kid' | 'alg' | 'privateJwk'>;

/** The persistence of the key ring. */
export interface KeyRecordStore {
  load(): Promise<KeyRecord[]>;
  /** Adds `key` as current (mode `rotate`) or only when there is no current key (mode `ensure`). */
  add(key: NewKey, mode: 'ensure' | 'rotate', maxTokenTtlMs: number): Promise<boolean>;
  /** Calls `onChange` whenever another process may have changed the keys. */
  watch(onChange: () => void): Promise<void>;
  close(): Promise<void>;
}

/** Redis key of the key ring and its change channel. */
export const KEYS_HASH = 'edgeway:{keys}:set';
export const KEYS_CHANNEL = 'edgeway:{keys}:changes';

interface StoredRedisRecord {
  kid: string;
  alg: SigningAlgorithm;
  createdAt: number;
  current: boolean;
  retireAfter?: number;
  jwk: string;
}

class RedisKeyRecords implements KeyRecordStore {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #rotate: ScriptCommand<unknown>;
  readonly #onError: (err: unknown) => void;
  #stop: (() => Promise<void>) | undefined;

  constructor(redis: RedisClient, subscriber: RedisClient, onError: (err: unknown) => void) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#onError = onError;
    this.#rotate = defineScript(redis, 'edgewayKeysRotate', 'keys-rotate.lua', 1);
  }

  async load(): Promise<KeyRecord[]> {
    const fields = await this.#redis.hgetall(KEYS_HASH);
    return Object.values(fields).map((text) => {
      const stored = JSON.parse(text) as StoredRedisRecord;
      const record: KeyRecord = {
        kid: stored.kid,
        alg: stored.alg,
        createdAt: stored.createdAt,
        current: stored.current,
        privateJwk: JSON.parse(stored.jwk) as JWK,
        ...(typeof stored.retireAfter === 'number' ? { retireAfter: stored.retireAfter } : {}),
      };
      return record;
    });
  }

  async add(key: NewKey, mode: 'ensure' | 'rotate', maxTokenTtlMs: number): Promise<boolean> {
    const added = await this.#rotate(KEYS_HASH, key.kid, key.alg, JSON.stringify(key.privateJwk), maxTokenTtlMs, mode, KEYS_CHANNEL);
    return added === 1;
  }

  async watch(onChange: () => void): Promise<void> {
    this.#stop = await listen(this.#subscriber, KEYS_CHANNEL, { onMessage: onChange, onReconnect: onChange, onError: this.#onError });
  }

  async close(): Promise<void> {
    await this.#stop?.();
  }
}

class FileKeyRecords implements KeyRecordStore {
  readonly #path: string;
  readonly #now: () => number;
  readonly #lock = new FileLock();
  #listener: (() => void) | undefined;

  constructor(dataDir: string, now: () => number) {
    this.#path = join(dataDir, 'keys.json');
    this.#now = now;
  }

  async load(): Promise<KeyRecord[]> {
    return (await readJsonFile<{ keys: KeyRecord[] }>(this.#path, { keys: [] })).keys;
  }

  add(key: NewKey, mode: 'ensure' | 'rotate', maxTokenTtlMs: number): Promise<boolean> {
    return this.#lock.run(async () => {
      const now = this.#now();
      const kept = (await this.load()).filter((r) => r.retireAfter === undefined || r.retireAfter > now);
      if (mode === 'ensure' && kept.some((r) => r.current)) return false;
      const retired = kept.map((r) => (r.current ? { ...r, current: false, retireAfter: now + maxTokenTtlMs } : r));
      await writeJsonFile(this.#path, { keys: [...retired, { ...key, createdAt: now, current: true }] });
      return true;
    });
  }

  async watch(onChange: () => void): Promise<void> {
    // A CLI `keys rotate` in memory mode edits the file; stat-polling sees it within the interval.
    this.#listener = onChange;
    watchFile(this.#path, { interval: 500, persistent: false }, onChange);
  }

  async close(): Promise<void> {
    if (this.#listener !== undefined) unwatchFile(this.#path, this.#listener);
  }
}

/** The key store of a backend. */
export function keyRecordStore(backend: StoreBackend, now: () => number = Date.now, onError: (err: unknown) => void = () => undefined): KeyRecordStore {
  return backend.kind === 'redis' ? new RedisKeyRecords(backend.redis, backend.subscriber, onError) : new FileKeyRecords(backend.dataDir, now);
}
