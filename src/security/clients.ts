/** OAuth2 client-credentials clients: ids with granted scopes and a hashed secret, in Redis or the data dir. */
import { join } from 'node:path';
import type { RedisClient, StoreBackend } from '../store/backend.js';
import { FileLock, readJsonFile, writeJsonFile } from './data-file.js';
import { isScopeToken } from './scopes.js';
import { hashSecret, newSecret, secretMatches, type SecretHash } from './client-secret.js';

/** Redis hash of all clients: field = client id, value = JSON StoredClient. */
export const CLIENTS_HASH = 'edgeway:{clients}';

/** A client as listed: never its secret or hash. */
export interface ClientInfo {
  readonly id: string;
  readonly scopes: readonly string[];
  readonly createdAt: number;
}

interface StoredClient extends ClientInfo {
  readonly secret: SecretHash;
}

/** RFC 6749 A.1: client_id = *VSCHAR; edgeway narrows it to a safe, printable subset. */
const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** Raw persistence of stored clients. */
interface ClientRecords {
  get(id: string): Promise<StoredClient | undefined>;
  all(): Promise<StoredClient[]>;
  /** Adds unless the id exists; returns false when it does. */
  insert(client: StoredClient): Promise<boolean>;
  delete(id: string): Promise<boolean>;
}

class RedisClientRecords implements ClientRecords {
  constructor(private readonly redis: RedisClient) {}

  async get(id: string): Promise<StoredClient | undefined> {
    const text = await this.redis.hget(CLIENTS_HASH, id);
    return text === null ? undefined : (JSON.parse(text) as StoredClient);
  }

  async all(): Promise<StoredClient[]> {
    return Object.values(await this.redis.hgetall(CLIENTS_HASH)).map(
      (text) => JSON.parse(text) as StoredClient,
    );
  }

  async insert(client: StoredClient): Promise<boolean> {
    // HSETNX is a single atomic command: no read-modify-write to script.
    return (await this.redis.hsetnx(CLIENTS_HASH, client.id, JSON.stringify(client))) === 1;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.redis.hdel(CLIENTS_HASH, id)) === 1;
  }
}

/** `<dataDir>/clients.json`, re-read on every call so a CLI edit is seen by a running memory-mode gateway. */
class FileClientRecords implements ClientRecords {
  readonly #path: string;
  readonly #lock = new FileLock();

  constructor(dataDir: string) {
    this.#path = join(dataDir, 'clients.json');
  }

  async get(id: string): Promise<StoredClient | undefined> {
    return (await this.all()).find((c) => c.id === id);
  }

  async all(): Promise<StoredClient[]> {
    return (await readJsonFile<{ clients: StoredClient[] }>(this.#path, { clients: [] })).clients;
  }

  insert(client: StoredClient): Promise<boolean> {
    return this.#lock.run(async () => {
      const clients = await this.all();
      if (clients.some((c) => c.id === client.id)) return false;
      await writeJsonFile(this.#path, { clients: [...clients, client] });
      return true;
    });
  }

  delete(id: string): Promise<boolean> {
    return this.#lock.run(async () => {
      const clients = await this.all();
      const kept = clients.filter((c) => c.id !== id);
      if (kept.length === clients.length) return false;
      await writeJsonFile(this.#path, { clients: kept });
      return true;
    });
  }
}

/** The client registry the CLI, the admin API and `POST /oauth/token` share. */
export class Clients {
  readonly #records: ClientRecords;
  readonly #now: () => number;

  constructor(backend: StoreBackend, now: () => number = Date.now) {
    this.#records =
      backend.kind === 'redis'
        ? new RedisClientRecords(backend.redis)
        : new FileClientRecords(backend.dataDir);
    this.#now = now;
  }

  /** Registers a client and returns its secret, which is not stored and cannot be shown again. */
  async add(id: string, scopes: readonly string[]): Promise<{ id: string; secret: string }> {
    if (!CLIENT_ID.test(id))
      throw new RangeError('client id must be 1 to 128 of A-Z a-z 0-9 . _ ~ -');
    const bad = scopes.find((scope) => !isScopeToken(scope));
    if (bad !== undefined) throw new RangeError(`invalid scope "${bad}"`);
    const secret = newSecret();
    const stored: StoredClient = {
      id,
      scopes: [...scopes],
      createdAt: this.#now(),
      secret: await hashSecret(secret),
    };
    if (!(await this.#records.insert(stored)))
      throw new RangeError(`client "${id}" already exists`);
    return { id, secret };
  }

  async list(): Promise<ClientInfo[]> {
    return (await this.#records.all())
      .map(({ id, scopes, createdAt }) => ({ id, scopes, createdAt }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Removes a client; false when there was none. */
  remove(id: string): Promise<boolean> {
    return this.#records.delete(id);
  }

  /** The client when `secret` is its secret, else undefined; unknown ids cost the same scrypt work. */
  async verify(id: string, secret: string): Promise<ClientInfo | undefined> {
    const stored = CLIENT_ID.test(id) ? await this.#records.get(id) : undefined;
    if (!(await secretMatches(secret, stored?.secret)) || stored === undefined) return undefined;
    return { id: stored.id, scopes: stored.scopes, createdAt: stored.createdAt };
  }
}
