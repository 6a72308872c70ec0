/** Chooses the state backend: Redis when a URL is given, else the embedded in-memory store. */
import { mkdirSync } from 'node:fs';
import type { StoreBackend } from './backend.js';
import { createRedisClient, parseRedisUrl } from './redis-url.js';

/**
 * Connects to Redis (two connections: commands and subscriptions) or returns the memory backend.
 * The URL may name a standalone server, a Sentinel set or a Cluster (see redis-url.ts); a bad URL throws RedisUrlError.
 */
export function connectBackend(redisUrl: string | undefined, dataDir: string): StoreBackend {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (redisUrl === undefined || redisUrl === '') return { kind: 'memory', dataDir };
  const topology = parseRedisUrl(redisUrl);
  return {
    kind: 'redis',
    redis: createRedisClient(topology),
    subscriber: createRedisClient(topology, 'subscriber'),
    dataDir,
  };
}

/** Closes the backend's connections. */
export async function closeBackend(backend: StoreBackend): Promise<void> {
  if (backend.kind === 'memory') return;
  backend.redis.disconnect();
  backend.subscriber.disconnect();
}
