/** Keep-alive connection pools to upstream origins, shared across config reloads. */
import { Pool } from 'undici';
import { upstreamConnectOptions, upstreamTlsKey, type UpstreamTlsConfig } from './upstream-tls.js';

/** Pool settings that come from a service's config. */
export interface PoolOptions {
  readonly connectTimeoutMs: number;
  /** Upper bound on connections per origin (circuitBreaker.maxConnections). */
  readonly maxConnections: number;
  /** CA, client certificate and server name for https origins (`upstreamTls`). */
  readonly tls?: UpstreamTlsConfig;
}

/** The pools of one gateway process, keyed by origin and settings, so a reload keeps warm connections. */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  /** The pool for an origin (`http://host:port`), created on first use. */
  get(origin: string, options: PoolOptions): Pool {
    const key = `${origin}|${options.connectTimeoutMs}|${options.maxConnections}|${upstreamTlsKey(options.tls)}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: options.maxConnections,
        connect: {
          timeout: options.connectTimeoutMs,
          ...(options.tls !== undefined && origin.startsWith('https:') ? upstreamConnectOptions(options.tls) : {}),
        },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 60_000,
        pipelining: 1,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes every pool after in-flight requests finish, or at once (aborting them) when `abort` is set. */
  async close(abort = false): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((pool) => (abort ? pool.destroy() : pool.close())));
  }
}
