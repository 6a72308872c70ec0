/** Builds the ACME manager of a config on the gateway's store: Redis when configured, else data-dir files. */
import type { Logger } from 'pino';
import { acmeDomains } from '../../config/acme-domains.js';
import type { Config } from '../../config/schema.js';
import type { StoreBackend } from '../../store/backend.js';
import { FileAcmeStore } from './file-store.js';
import type { AcmeManager, AcmeTiming } from './manager.js';
import { RedisAcmeStore } from './redis-store.js';
import type { AcmeStore } from './store.js';

/** The ACME store on `backend`. */
export function acmeStore(backend: StoreBackend): AcmeStore {
  return backend.kind === 'redis'
    ? new RedisAcmeStore(backend.redis, backend.subscriber)
    : new FileAcmeStore(backend.dataDir);
}

/** The manager for `gateway.tls.acme`, or undefined without it. */
export async function createAcme(
  config: Config,
  backend: StoreBackend,
  logger: Logger,
  timing?: AcmeTiming,
): Promise<AcmeManager | undefined> {
  const acme = config.gateway.tls?.acme;
  if (acme === undefined) return undefined;
  // Loaded only when ACME is configured: acme-client (with axios) and @peculiar/x509 hold ~11 MB of heap
  // for as long as the process lives, a seventh of an idle gateway's RSS.
  const { AcmeManager } = await import('./manager.js');
  return AcmeManager.create(acme, acmeDomains(config), acmeStore(backend), logger, timing);
}
