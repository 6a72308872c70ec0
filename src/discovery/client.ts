/** The embeddable registration client (`edgeway/registry`): register an instance, heartbeat it, deregister on stop. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createRedisClient, parseRedisUrl } from '../store/redis-url.js';
import type { RedisClient } from '../store/backend.js';
import { checkRegistration, checkTtl } from './instance.js';
import { encodeRecord } from './record-codec.js';
import { defineRegistryCommands, REGISTRY_CHANNEL, REGISTRY_KEYS } from './registry-scripts.js';
import { consoleLogger, type RegistryLogger } from './registry.js';

/** What a service passes to register itself. */
export interface RegisterOptions {
  /** A Redis URL (the client opens and later closes its own connection) or a connection the caller owns. */
  readonly redis: string | RedisClient;
  readonly service: string;
  /** Defaults to "<hostname>-<pid>-<random>". */
  readonly id?: string;
  /** Where the gateway forwards requests, e.g. http://10.0.0.5:8080. */
  readonly url: string;
  readonly weight?: number;
  readonly capacity?: number;
  readonly meta?: Readonly<Record<string, string>>;
  /** The instance drops out this long after its last heartbeat, ms; heartbeats run every ttlMs/3. */
  readonly ttlMs?: number;
  readonly logger?: RegistryLogger;
}

/** A live registration. */
export interface Registration {
  readonly id: string;
  /** Stops heartbeating and deregisters (the TTL removes the instance anyway if Redis is unreachable). */
  stop(): Promise<void>;
}

/** Default TTL, ms: short enough that a crashed instance leaves quickly, long enough to ride out a GC pause. */
export const DEFAULT_TTL_MS = 10_000;

function defaultId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._:-]/g, '-')
      .slice(0, 100) || 'instance';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Registers an instance and keeps it alive. Resolves once the first registration is stored; rejects
 * (GatewayError `bad_request`) on invalid options or when Redis refuses the first registration.
 * Heartbeats re-send the whole record, so an instance re-appears by itself after Redis lost its data.
 */
export async function register(options: RegisterOptions): Promise<Registration> {
  const reg = checkRegistration({ ...options, id: options.id ?? defaultId() });
  const ttlMs = checkTtl(options.ttlMs ?? DEFAULT_TTL_MS);
  const logger = options.logger ?? consoleLogger;
  const owned =
    typeof options.redis === 'string' ? createRedisClient(parseRedisUrl(options.redis)) : undefined;
  const client = owned ?? (options.redis as RedisClient);
  const commands = defineRegistryCommands(client);
  const record = encodeRecord(reg);
  const send = (): Promise<unknown> =>
    commands.registryRegister(
      ...REGISTRY_KEYS,
      reg.service,
      reg.id,
      record,
      ttlMs,
      REGISTRY_CHANNEL,
    );

  // A connection we opened must not print ioredis' "unhandled error" noise while Redis is down.
  owned?.on('error', () => {});
  try {
    await send();
  } catch (err) {
    owned?.disconnect();
    throw err;
  }

  let inFlight: Promise<unknown> = Promise.resolve();
  let beating = false;
  let failing = false;
  const heartbeat = (): void => {
    if (beating) return;
    beating = true;
    inFlight = send()
      .then(() => {
        if (failing) logger.info(`registry: ${reg.service}/${reg.id} registered again`);
        failing = false;
      })
      .catch((err: unknown) => {
        if (!failing)
          logger.warn(
            `registry: heartbeat of ${reg.service}/${reg.id} failed; retrying every ${Math.round(ttlMs / 3)} ms`,
            err,
          );
        failing = true;
      })
      .finally(() => {
        beating = false;
      });
  };
  // A third of the TTL leaves room for two lost heartbeats before the instance expires.
  const timer = setInterval(heartbeat, Math.max(1, Math.floor(ttlMs / 3)));

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await inFlight;
    try {
      await commands.registryDeregister(...REGISTRY_KEYS, reg.service, reg.id, REGISTRY_CHANNEL);
    } catch (err) {
      logger.warn(
        `registry: deregistering ${reg.service}/${reg.id} failed; it expires within ${ttlMs} ms`,
        err,
      );
    }
    if (owned !== undefined) await owned.quit().catch(() => owned.disconnect());
  };
  return {
    id: reg.id,
    stop: () => (stopped ??= stop()),
  };
}
