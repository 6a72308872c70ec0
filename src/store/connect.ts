/** Chooses the state backend: Redis when a URL is given, else the embedded in-memory store. */
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { StoreBackend } from './backend.js';

/** Connects to Redis (two connections: commands and subscriptions) or returns the memory backend. */
export function connectBackend(redisUrl: string | undefined, dataDir: string): StoreBackend {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (redisUrl === undefined || redisUrl === '') return { kind: 'memory', dataDir };
  const options = { enableAutoPipelining: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: (times: number) => Math.min(times * 100, 1000) };
  return { kind: 'redis', redis: new Redis(redisUrl, options), subscriber: new Redis(redisUrl, options), dataDir };
}

/** Closes the backend's connections. */
export async function closeBackend(backend: StoreBackend): Promise<void> {
  if (backend.kind === 'memory') return;
  backend.redis.disconnect();
  backend.subscriber.disconnect();
}
