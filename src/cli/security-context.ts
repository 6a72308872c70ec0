/** Opens the store and the security core for one CLI command (token, keys, clients), and closes them after. */
import { existsSync } from 'node:fs';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { createSecurity, type AuthConfig, type Security } from '../security/index.js';
import type { StoreBackend } from '../store/backend.js';
import { closeBackend, connectBackend } from '../store/connect.js';
import { parseRedisUrl, redact, RedisUrlError } from '../store/redis-url.js';
import { configPath, dataDir, redisUrl } from './args.js';

/** Flags every security command takes. */
export const SECURITY_OPTIONS = {
  config: { type: 'string' },
  redis: { type: 'string' },
} as const;

/** Where the settings come from, for the --help text of every security command. */
export const SECURITY_HELP =
  'Config (--config or EDGEWAY_CONFIG, default routes/) supplies the auth section. With --redis or REDIS_URL keys, clients and revocations are shared by every gateway on that Redis; without, keys.json and clients.json in EDGEWAY_DATA_DIR (default .data) are shared with a gateway started from the same folder.';

/** An open security core and its store. */
export interface SecurityContext {
  readonly security: Security;
  readonly backend: StoreBackend;
  close(): Promise<void>;
}

/** Thrown when the command cannot open its context; the message is ready to print. */
export class ContextError extends Error {}

/**
 * The auth section: from the config when it exists, else the defaults. A missing default `routes/` folder is
 * not an error (`keys list` needs no routes), but an explicitly named config must load cleanly.
 */
function authConfig(flag: unknown): AuthConfig {
  const path = configPath(flag);
  const named = typeof flag === 'string' || process.env.EDGEWAY_CONFIG !== undefined;
  if (!named && !existsSync(path)) return configSchema.parse({}).auth;
  const loaded = loadConfig(path);
  if (!loaded.ok) throw new ContextError(`${loaded.diagnostics.map(formatDiagnostic).join('\n')}\ninvalid config at ${path}`);
  return loaded.config.auth;
}

/** Opens the context the flags point at. */
export async function openSecurityContext(flags: Record<string, string | boolean | undefined>): Promise<SecurityContext> {
  const auth = authConfig(flags.config);
  const url = redisUrl(flags.redis);
  if (url !== undefined) {
    try {
      parseRedisUrl(url);
    } catch (err) {
      if (err instanceof RedisUrlError) throw new ContextError(err.message);
      throw err;
    }
  }
  const backend = connectBackend(url, dataDir());
  // A one-shot command reports an unreachable Redis once, as its failure, not as a stream of error events.
  let lastRedisError: Error | undefined;
  if (backend.kind === 'redis') {
    for (const connection of [backend.redis, backend.subscriber]) connection.on('error', (err: Error) => (lastRedisError = err));
  }
  let security: Security;
  try {
    security = await createSecurity(backend, auth, { onError: (err) => process.stderr.write(`edgeway: ${(err as Error).message}\n`) });
  } catch (err) {
    await closeBackend(backend);
    if (url === undefined) throw err;
    throw new ContextError(`cannot use Redis at ${redact(url)}: ${(lastRedisError ?? (err as Error)).message}`);
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

/** Runs `work` on an open context and always closes it; a ContextError or RangeError becomes exit 1 with its message. */
export async function withSecurity(name: string, flags: Record<string, string | boolean | undefined>, work: (ctx: SecurityContext) => Promise<number>): Promise<number> {
  let ctx: SecurityContext | undefined;
  try {
    ctx = await openSecurityContext(flags);
    return await work(ctx);
  } catch (err) {
    if (err instanceof ContextError || err instanceof RangeError) {
      process.stderr.write(`edgeway ${name}: ${err.message}\n`);
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
