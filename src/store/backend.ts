/** The state backend a gateway runs on: Redis (shared by every instance) or the embedded in-memory store. */
import type { Redis, Cluster } from 'ioredis';

/** A Redis connection of any topology ioredis supports (standalone, Sentinel or Cluster). */
export type RedisClient = Redis | Cluster;

/**
 * The backend every stateful part (discovery, rate limits, keys, revocations, clients) builds its
 * store from. `memory` serves one gateway process; `redis` is shared by all of them.
 * `subscriber` is a second connection reserved for SUBSCRIBE/XREAD BLOCK, which block a connection.
 */
export type StoreBackend =
  | { readonly kind: 'memory'; readonly dataDir: string }
  | {
      readonly kind: 'redis';
      readonly redis: RedisClient;
      readonly subscriber: RedisClient;
      readonly dataDir: string;
    };
