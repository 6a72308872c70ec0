/** Builds RedisRegistry instances on a test Redis, each with its own backend connections and captured logs. */
import { Redis } from 'ioredis';
import { RedisRegistry, type RedisRegistryOptions } from '../../src/discovery/redis-registry.js';
import type { RegistryLogger } from '../../src/discovery/registry.js';
import type { TestRedis } from '../helpers/redis-server.js';

/** A logger that keeps what it was told, for assertions. */
export function captureLogger(): RegistryLogger & {
  readonly warnings: string[];
  readonly infos: string[];
} {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    warn: (message) => warnings.push(message),
    info: (message) => infos.push(message),
  };
}

/** A started RedisRegistry on `server`, with connections it owns for the test; dispose closes all of it. */
export async function startRedisRegistry(server: TestRedis, options: RedisRegistryOptions = {}) {
  const redis = new Redis(server.url);
  const subscriber = new Redis(server.url);
  const logger = options.logger ?? captureLogger();
  const registry = new RedisRegistry(
    { kind: 'redis', redis, subscriber, dataDir: '' },
    { ...options, logger },
  );
  await Promise.all([redis.ping(), subscriber.ping()]);
  await registry.start();
  return {
    registry,
    redis,
    logger,
    dispose: async (): Promise<void> => {
      await registry.close();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}
