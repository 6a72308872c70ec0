/** Opens the store and the security core for one CLI command (token, keys, clients), and closes them after. */
import { createSecurity, type Security } from '../security/index.js';
import type { StoreBackend } from '../store/backend.js';
import { closeBackend, connectBackend } from '../store/connect.js';
import { parseRedisUrl, redact, RedisUrlError } from '../store/redis-url.js';
import {
  CommandError,
  CONFIG_OPTION,
  dataDir,
  printMessage,
  REDIS_OPTION,
  redisUrl,
  type OptionSpec,
} from './args.js';
import { commandConfig } from './command-config.js';

/** Flags every security command takes. */
export const SECURITY_OPTIONS: Readonly<Record<'config' | 'redis', OptionSpec>> = {
  config: CONFIG_OPTION,
  redis: REDIS_OPTION,
};

/** Where the settings come from, for the --help text of every security command. */
export const SECURITY_HELP =
  'Config (--config or EDGEWAY_CONFIG, default routes/) supplies the auth section. With --redis or REDIS_URL keys, clients and revocations are shared by every gateway on that Redis; without, keys.json and clients.json in EDGEWAY_DATA_DIR (default .data) are shared with a gateway started from the same folder.';

/** An open security core and its store. */
export interface SecurityContext {
  readonly security: Security;
  readonly backend: StoreBackend;
  close(): Promise<void>;
}

/** Opens the context the flags point at. */
export async function openSecurityContext(
  flags: Record<string, string | boolean | undefined>,
): Promise<SecurityContext> {
  const auth = commandConfig(flags.config).auth;
  const url = redisUrl(flags.redis);
  if (url !== undefined) {
    try {
      parseRedisUrl(url);
    } catch (err) {
      if (err instanceof RedisUrlError) throw new CommandError(err.message);
      throw err;
    }
  }
  const backend = connectBackend(url, dataDir());
  // A one-shot command reports an unreachable Redis once, as its failure, not as a stream of error events.
  let lastRedisError: Error | undefined;
  if (backend.kind === 'redis') {
    for (const connection of [backend.redis, backend.subscriber])
      connection.on('error', (err: Error) => (lastRedisError = err));
  }
  let security: Security;
  try {
    security = await createSecurity(backend, auth, {
      onError: (err) => printMessage((err as Error).message),
    });
  } catch (err) {
    await closeBackend(backend);
    if (url === undefined) throw err;
    throw new CommandError(
      `cannot use Redis at ${redact(url)}: ${(lastRedisError ?? (err as Error)).message}`,
    );
  }
  return {
    security,
    backend,
    close: async () => {
      await security.close();
      await closeBackend(backend);
    },
  };
}

/** Runs `work` on an open context and always closes it; a CommandError or RangeError becomes exit 1 with its message. */
export async function withSecurity(
  flags: Record<string, string | boolean | undefined>,
  work: (ctx: SecurityContext) => Promise<number>,
): Promise<number> {
  let ctx: SecurityContext | undefined;
  try {
    ctx = await openSecurityContext(flags);
    return await work(ctx);
  } catch (err) {
    if (err instanceof CommandError || err instanceof RangeError) {
      printMessage(err.message);
      return 1;
    }
    throw err;
  } finally {
    await ctx?.close();
  }
}

/** A space-separated scope flag as a list. */
export function scopeList(flag: unknown): string[] {
  return typeof flag === 'string' ? flag.split(' ').filter((s) => s.length > 0) : [];
}
