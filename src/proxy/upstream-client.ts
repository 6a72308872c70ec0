/** Keep-alive connection pools to upstream origins, shared across config reloads. */
import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { Pool, type Dispatcher } from 'undici';
import type { InstancePolicy } from '../discovery/instance-policy.js';
import { keepH2Trailers } from './h2-trailers.js';
import type { UpstreamTls } from './upstream-tls.js';

/** Pool settings that come from a service's config. */
export interface PoolOptions {
  readonly connectTimeoutMs: number;
  /** Upper bound on connections per origin (circuitBreaker.maxConnections). */
  readonly maxConnections: number;
  /** CA, client certificate and server name for https origins (`upstreamTls`, its files read at load). */
  readonly tls?: UpstreamTls | undefined;
  /** `services.*.protocol`: http1, h2 (TLS, ALPN) or h2c (prior knowledge, RFC 9113 3.3). */
  readonly protocol?: 'http1' | 'h2' | 'h2c';
}

/** Streams one HTTP/2 connection carries at once before the pool opens another (Node's and most servers' default). */
const H2_STREAMS_PER_CONNECTION = 100;

/**
 * One user's (a service runtime's) view of the pools under its settings. Pools live while some user of
 * the same settings names their origin, so instances that leave do not keep pools and sockets forever.
 */
export interface OriginPools {
  /** The dispatcher of an origin (`http://host:port`), its pool opened on first use. */
  dispatcher(origin: string): Dispatcher;
  /**
   * Names the origins this user sends to from now on (call when its endpoint set changes). Pools of
   * origins no user of these settings names any more close after their in-flight requests.
   */
  use(origins: Iterable<string>): void;
  /** Withdraws this user (a retired runtime), closing the pools only it named. */
  release(): void;
}

/** A service runtime's claim on the pools of the origins it sends to. */
interface PoolUser {
  origins: ReadonlySet<string>;
}

/** The value of `key` in `map`, made and stored on first use. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

function settingsKey(options: PoolOptions): string {
  return `${options.protocol ?? 'http1'}|${options.connectTimeoutMs}|${options.maxConnections}|${options.tls?.key ?? ''}`;
}

/** The pools of one gateway process, keyed by origin and settings, so a reload keeps warm connections. */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  /** What requests go through, per pool key: the pool, or for HTTP/2 the pool behind the trailer fix. */
  private readonly dispatchers = new Map<string, Dispatcher>();
  /** Dispatchers by settings key, then origin: an attempt finds its pool with one lookup and no key to build. */
  private readonly byOrigin = new Map<string, Map<string, Dispatcher>>();
  /** The origin sets of every user, by settings key: what keeps a pool open. */
  private readonly users = new Map<string, Set<PoolUser>>();
  /** Pools of departed instances still finishing their in-flight requests. */
  private readonly closing = new Set<Pool>();
  private policy: InstancePolicy | undefined;

  /** Refuses, from now on, connections whose resolved address is one of the gateway's own listeners. */
  restrict(policy: InstancePolicy): void {
    this.policy = policy;
  }

  /** dns.lookup, refusing an own listener's address (net.connect calls it for host names only). */
  private guardedLookup(port: number): typeof lookup {
    return ((
      host: string,
      options: LookupOptions,
      callback: (
        err: NodeJS.ErrnoException | null,
        address: string | LookupAddress[],
        family?: number,
      ) => void,
    ) => {
      lookup(host, { ...options, all: true }, (err, addresses) => {
        const own =
          err === null
            ? addresses.find((entry) => this.policy?.isOwnListener(entry.address, port))
            : undefined;
        if (own !== undefined) {
          return callback(
            Object.assign(
              new Error(`${host}:${port} resolves to ${own.address}, this gateway's own listener`),
              { code: 'ECONNREFUSED' },
            ),
            [],
          );
        }
        if (err !== null || options.all === true) return callback(err, addresses);
        const [first] = addresses;
        callback(null, first?.address ?? '', first?.family);
      });
    }) as typeof lookup;
  }

  /**
   * The pools of one service's settings (call at config load): origins seen later, such as instances that
   * discovery adds at runtime, get theirs on first use; services with equal settings share them across reloads.
   */
  forSettings(options: PoolOptions): OriginPools {
    const settings = settingsKey(options);
    const byOrigin = entry(this.byOrigin, settings, () => new Map<string, Dispatcher>());
    const user: PoolUser = { origins: new Set() };
    entry(this.users, settings, () => new Set<PoolUser>()).add(user);
    return {
      dispatcher: (origin) => {
        let dispatcher = byOrigin.get(origin);
        if (dispatcher === undefined) {
          dispatcher = this.get(origin, options);
          byOrigin.set(origin, dispatcher);
          // A retired runtime's retry can still ask for an origin no user names any more: its pool is closed
          // once the request about to be dispatched on it (synchronously, by the caller) is finished.
          if (!this.named(settings, origin)) queueMicrotask(() => this.evictUnused(settings));
        }
        return dispatcher;
      },
      use: (origins) => {
        user.origins = new Set(origins);
        this.evictUnused(settings);
      },
      release: () => {
        this.users.get(settings)?.delete(user);
        this.evictUnused(settings);
      },
    };
  }

  /** Pools open now (for the edgeway_upstream_pools gauge); closing ones no longer count. */
  get size(): number {
    return this.pools.size;
  }

  /** Whether some user of `settings` names `origin`. */
  private named(settings: string, origin: string): boolean {
    for (const user of this.users.get(settings) ?? []) if (user.origins.has(origin)) return true;
    return false;
  }

  /** Closes, after their in-flight requests, the pools of `settings` whose origin no user names. */
  private evictUnused(settings: string): void {
    const byOrigin = this.byOrigin.get(settings);
    if (byOrigin === undefined) return;
    for (const origin of byOrigin.keys()) {
      if (this.named(settings, origin)) continue;
      byOrigin.delete(origin);
      const key = `${origin}|${settings}`;
      const pool = this.pools.get(key);
      this.pools.delete(key);
      this.dispatchers.delete(key);
      if (pool === undefined) continue;
      // Kept until closed, so a shutdown that cuts requests off (close(true)) reaches these as well.
      this.closing.add(pool);
      pool
        .close()
        .catch(() => undefined)
        .finally(() => this.closing.delete(pool));
    }
  }

  /** The pool for an origin (`http://host:port`), created on first use. */
  get(origin: string, options: PoolOptions): Dispatcher {
    const key = `${origin}|${settingsKey(options)}`;
    const h2 = options.protocol === 'h2' || options.protocol === 'h2c';
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: options.maxConnections,
        connect: {
          timeout: options.connectTimeoutMs,
          lookup: this.guardedLookup(
            Number(new URL(origin).port) || (origin.startsWith('https:') ? 443 : 80),
          ),
          ...(options.tls !== undefined && origin.startsWith('https:') ? options.tls.connect : {}),
          ...(options.protocol === 'h2c' ? { useH2c: true } : {}),
        },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 60_000,
        // HTTP/2 multiplexes: one connection serves many requests at once, so the pool opens few.
        allowH2: h2,
        pipelining: h2 ? H2_STREAMS_PER_CONNECTION : 1,
      });
      this.pools.set(key, pool);
      this.dispatchers.set(key, h2 ? pool.compose(keepH2Trailers) : pool);
    }
    return this.dispatchers.get(key) as Dispatcher;
  }

  /** Closes every pool after in-flight requests finish, or at once (aborting them) when `abort` is set. */
  async close(abort = false): Promise<void> {
    const pools = [...this.pools.values(), ...this.closing];
    this.pools.clear();
    this.dispatchers.clear();
    // Services built earlier hold these maps: emptied, they open fresh pools rather than closed ones.
    for (const cache of this.byOrigin.values()) cache.clear();
    await Promise.allSettled(pools.map((pool) => (abort ? pool.destroy() : pool.close())));
  }
}
