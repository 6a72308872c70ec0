/** Where signing keys live: a Redis hash shared by every gateway, or `<dataDir>/keys.json` in memory mode. */
import { watchFile, unwatchFile } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import type { StoreBackend, RedisClient } from '../store/backend.js';
import { FileLock, readJsonFile, writeJsonFile } from './data-file.js';
import { defineScript, type ScriptCommand } from '../store/lua-script.js';
import { listen } from './channel.js';
import { applyKeyChange, type KeyChange, type KeyChangeResult } from './key-changes.js';

/** The signing algorithms edgeway issues with. */
export type SigningAlgorithm = 'ES256' | 'EdDSA';

/**
 * Where a key is in its life: `next` is published in the JWKS before it signs anything (so verifiers that
 * cache the JWKS know it by the time it does), `current` signs, `retiring` verifies until its tokens have
 * expired, `revoked` (an emergency rotation) never verifies again.
 */
export type KeyState = 'next' | 'current' | 'retiring' | 'revoked';

/** One stored key, private part included; it never leaves the security module. */
export interface KeyRecord {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** ms since epoch */
  readonly createdAt: number;
  readonly state: KeyState;
  /** ms since epoch after which the key is deleted; set when it retires or is revoked. */
  readonly retireAfter?: number;
  readonly privateJwk: JWK;
}

/** A new key to add: the store stamps createdAt and the state. */
export type NewKey = Pick<KeyRecord, 'kid' | 'alg' | 'privateJwk'>;

/** A record's state; records written before states existed carry only a `current` flag. */
function stateOf(stored: { state?: unknown; current?: unknown }): KeyState {
  if (
    stored.state === 'next' ||
    stored.state === 'current' ||
    stored.state === 'retiring' ||
    stored.state === 'revoked'
  )
    return stored.state;
  return stored.current === true ? 'current' : 'retiring';
}

/** The persistence of the key ring. */
export interface KeyRecordStore {
  load(): Promise<KeyRecord[]>;
  /** Applies one change atomically (see key-changes.ts); resolves to its KeyChangeResult. */
  change(change: KeyChange, maxTokenTtlMs: number): Promise<KeyChangeResult>;
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
  state?: KeyState;
  current?: boolean;
  retireAfter?: number;
  jwk: string;
}

class RedisKeyRecords implements KeyRecordStore {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #rotate: ScriptCommand<unknown>;
  readonly #onError: (err: unknown) => void;
  #stop: (() => Promise<void>) | undefined;
  #onCommandsReady: (() => void) | undefined;

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
        state: stateOf(stored),
        privateJwk: JSON.parse(stored.jwk) as JWK,
        ...(typeof stored.retireAfter === 'number' ? { retireAfter: stored.retireAfter } : {}),
      };
      return record;
    });
  }

  async change(change: KeyChange, maxTokenTtlMs: number): Promise<KeyChangeResult> {
    const { key, mode } = change;
    const held =
      mode === 'restore'
        ? [change.key.state, change.key.createdAt, change.key.retireAfter ?? '']
        : [];
    return (await this.#rotate(
      KEYS_HASH,
      key.kid,
      key.alg,
      JSON.stringify(key.privateJwk),
      maxTokenTtlMs,
      mode,
      KEYS_CHANNEL,
      ...held,
    )) as KeyChangeResult;
  }

  async watch(onChange: () => void): Promise<void> {
    this.#stop = await listen(this.#subscriber, KEYS_CHANNEL, {
      onMessage: onChange,
      onReconnect: onChange,
      onError: this.#onError,
    });
    // The command connection's reconnect too: a restarted Redis may have lost the keys, and the reload puts them back.
    this.#onCommandsReady = onChange;
    this.#redis.on('ready', onChange);
  }

  async close(): Promise<void> {
    if (this.#onCommandsReady !== undefined) this.#redis.off('ready', this.#onCommandsReady);
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
    const { keys } = await readJsonFile<{
      keys: Array<Omit<KeyRecord, 'state'> & { state?: KeyState; current?: boolean }>;
    }>(this.#path, { keys: [] });
    return keys.map(({ current: _flag, ...record }) => ({
      ...record,
      state: stateOf({ state: record.state, current: _flag }),
    }));
  }

  change(change: KeyChange, maxTokenTtlMs: number): Promise<KeyChangeResult> {
    return this.#lock.run(async () => {
      const { records, result } = applyKeyChange(
        await this.load(),
        change,
        this.#now(),
        maxTokenTtlMs,
      );
      if (result > 0) await writeJsonFile(this.#path, { keys: records });
      return result;
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
export function keyRecordStore(
  backend: StoreBackend,
  now: () => number = Date.now,
  onError: (err: unknown) => void = () => undefined,
): KeyRecordStore {
  return backend.kind === 'redis'
    ? new RedisKeyRecords(backend.redis, backend.subscriber, onError)
    : new FileKeyRecords(backend.dataDir, now);
}
