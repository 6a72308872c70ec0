/** Where API keys live: Redis hashes shared by every gateway, or `<dataDir>/apikeys.json` in memory mode. */
import { unwatchFile, watchFile } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient, StoreBackend } from '../../store/backend.js';
import { defineScript, type ScriptCommand } from '../../store/lua-script.js';
import { listen } from '../channel.js';
import { FileLock, readJsonFile, writeJsonFile } from '../data-file.js';

/** A key as listed and as the gateway authenticates it: never the key, never its digest. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly consumer: string;
  readonly scopes: readonly string[];
  /** ms since epoch */
  readonly createdAt: number;
  /** ms since epoch; null for a key that never expires. */
  readonly expiresAt: number | null;
}

/** A record with the digest it is found by. */
export interface StoredApiKey extends ApiKeyRecord {
  readonly digest: string;
}

/** What a watcher hears: one key revoked, or "anything may have changed" (reconnect, file edit). */
export interface ApiKeyChanges {
  readonly revoked: (id: string) => void;
  readonly reset: () => void;
}

/** The persistence of API keys; both backends pass one contract suite. */
export interface ApiKeyRecords {
  /** Stores a new key; false when its id or digest already exists. */
  insert(key: StoredApiKey): Promise<boolean>;
  /** The record whose key has this digest: one hash-table read. */
  find(digest: string): Promise<ApiKeyRecord | undefined>;
  all(): Promise<ApiKeyRecord[]>;
  /** Removes the key everywhere; false when there was none. */
  remove(id: string): Promise<boolean>;
  /** Follows changes made by other processes. */
  watch(changes: ApiKeyChanges): Promise<void>;
  close(): Promise<void>;
}

/** Redis keys (one hash slot, so the scripts work on a Cluster) and the revocation channel. */
export const API_KEYS_BY_DIGEST = 'edgeway:{apikeys}:by-digest';
export const API_KEYS_IDS = 'edgeway:{apikeys}:ids';
export const API_KEYS_EXPIRY = 'edgeway:{apikeys}:expiry';
export const API_KEYS_CHANNEL = 'edgeway:{apikeys}:revoked';

function record({ id, consumer, scopes, createdAt, expiresAt }: ApiKeyRecord): ApiKeyRecord {
  return Object.freeze({ id, consumer, scopes: Object.freeze([...scopes]), createdAt, expiresAt });
}

class RedisApiKeyRecords implements ApiKeyRecords {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #issue: ScriptCommand<number>;
  readonly #revoke: ScriptCommand<number>;
  readonly #onError: (err: unknown) => void;
  #stop: (() => Promise<void>) | undefined;

  constructor(redis: RedisClient, subscriber: RedisClient, onError: (err: unknown) => void) {
    this.#redis = redis;
    this.#subscriber = subscriber;
    this.#onError = onError;
    this.#issue = defineScript(redis, 'edgewayApiKeyIssue', 'apikey-issue.lua', 3);
    this.#revoke = defineScript(redis, 'edgewayApiKeyRevoke', 'apikey-revoke.lua', 3);
  }

  async insert(key: StoredApiKey): Promise<boolean> {
    const json = JSON.stringify(record(key));
    return (
      (await this.#issue(
        API_KEYS_BY_DIGEST,
        API_KEYS_IDS,
        API_KEYS_EXPIRY,
        key.digest,
        key.id,
        json,
        key.expiresAt ?? 0,
      )) === 1
    );
  }

  async find(digest: string): Promise<ApiKeyRecord | undefined> {
    const text = await this.#redis.hget(API_KEYS_BY_DIGEST, digest);
    return text === null ? undefined : record(JSON.parse(text) as ApiKeyRecord);
  }

  async all(): Promise<ApiKeyRecord[]> {
    return Object.values(await this.#redis.hgetall(API_KEYS_BY_DIGEST)).map((text) =>
      record(JSON.parse(text) as ApiKeyRecord),
    );
  }

  async remove(id: string): Promise<boolean> {
    return (
      (await this.#revoke(
        API_KEYS_BY_DIGEST,
        API_KEYS_IDS,
        API_KEYS_EXPIRY,
        id,
        API_KEYS_CHANNEL,
      )) === 1
    );
  }

  async watch(changes: ApiKeyChanges): Promise<void> {
    // Messages published while the subscriber was away are lost: a reconnect forgets every cached key.
    this.#stop = await listen(this.#subscriber, API_KEYS_CHANNEL, {
      onMessage: changes.revoked,
      onReconnect: changes.reset,
      onError: this.#onError,
    });
  }

  async close(): Promise<void> {
    await this.#stop?.();
  }
}

/**
 * Memory mode: the file is the store and a Map of it the index, re-read when the file changes (a CLI
 * `apikeys issue|revoke` beside a running gateway is seen within the 500 ms stat poll).
 */
class FileApiKeyRecords implements ApiKeyRecords {
  readonly #path: string;
  readonly #lock = new FileLock();
  readonly #onError: (err: unknown) => void;
  #byDigest = new Map<string, ApiKeyRecord>();
  #listener: (() => void) | undefined;

  constructor(dataDir: string, onError: (err: unknown) => void) {
    this.#path = join(dataDir, 'apikeys.json');
    this.#onError = onError;
  }

  async #read(): Promise<StoredApiKey[]> {
    return (await readJsonFile<{ keys: StoredApiKey[] }>(this.#path, { keys: [] })).keys;
  }

  async #index(): Promise<void> {
    this.#byDigest = new Map((await this.#read()).map((key) => [key.digest, record(key)]));
  }

  insert(key: StoredApiKey): Promise<boolean> {
    return this.#lock.run(async () => {
      const now = Date.now();
      const keys = (await this.#read()).filter(
        (known) => known.expiresAt === null || known.expiresAt > now,
      );
      if (keys.some((known) => known.id === key.id || known.digest === key.digest)) return false;
      await writeJsonFile(this.#path, { keys: [...keys, key] });
      await this.#index();
      return true;
    });
  }

  async find(digest: string): Promise<ApiKeyRecord | undefined> {
    return this.#byDigest.get(digest);
  }

  async all(): Promise<ApiKeyRecord[]> {
    return (await this.#read()).map(record);
  }

  remove(id: string): Promise<boolean> {
    return this.#lock.run(async () => {
      const keys = await this.#read();
      const kept = keys.filter((key) => key.id !== id);
      if (kept.length === keys.length) return false;
      await writeJsonFile(this.#path, { keys: kept });
      await this.#index();
      return true;
    });
  }

  async watch(changes: ApiKeyChanges): Promise<void> {
    await this.#index();
    this.#listener = () => {
      this.#index().then(changes.reset, this.#onError);
    };
    watchFile(this.#path, { interval: 500, persistent: false }, this.#listener);
  }

  async close(): Promise<void> {
    if (this.#listener !== undefined) unwatchFile(this.#path, this.#listener);
  }
}

/** The API key store of a backend. */
export function apiKeyRecords(
  backend: StoreBackend,
  onError: (err: unknown) => void = () => undefined,
): ApiKeyRecords {
  return backend.kind === 'redis'
    ? new RedisApiKeyRecords(backend.redis, backend.subscriber, onError)
    : new FileApiKeyRecords(backend.dataDir, onError);
}
