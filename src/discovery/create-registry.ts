/** Picks the registry for a store backend: Redis when the gateway has one, else the embedded memory registry. */
import type { StoreBackend } from '../store/backend.js';
import { MemoryRegistry } from './memory-registry.js';
import { RedisRegistry, type RedisRegistryOptions } from './redis-registry.js';
import type { Registry } from './registry.js';

/** Builds (does not start) the registry for `backend`; call `start()` before serving and `close()` on shutdown. */
export function createRegistry(
  backend: StoreBackend,
  options: RedisRegistryOptions = {},
): Registry {
  if (backend.kind === 'redis') return new RedisRegistry(backend, options);
  return new MemoryRegistry(options.logger === undefined ? {} : { logger: options.logger });
}
