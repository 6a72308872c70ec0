/** Parses a Redis URL (standalone, Sentinel or Cluster) into ioredis options, and opens a client of that topology. */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisClient } from './backend.js';

/** A host and port of one Redis node or Sentinel. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** What a URL names: one server (possibly behind Sentinel) or a Cluster seed list. */
export type RedisTopology =
  | { readonly kind: 'standalone'; readonly options: RedisOptions }
  | { readonly kind: 'sentinel'; readonly options: RedisOptions }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly RedisNode[];
      readonly options: ClusterOptions;
    };

/** Thrown for a URL edgeway cannot use; the message names the bad part and the accepted forms. */
export class RedisUrlError extends Error {
  constructor(detail: string) {
    super(
      `invalid Redis URL: ${detail} (expected redis[s]://[:password@]host:port[/db], redis[s]+sentinel://[:password@]host1:26379,host2:26379/mastername[/db] or redis[s]+cluster://[:password@]host1:7000,host2:7001)`,
    );
    this.name = 'RedisUrlError';
  }
}

const DEFAULT_PORT = { standalone: 6379, sentinel: 26379, cluster: 6379 } as const;

/**
 * How long a command waits for its reply before ioredis rejects it, ms. The request path gives up much
 * sooner (its own deadlines), but without this the commands it abandoned stay pending, with what they
 * hold, for as long as a hung Redis keeps the connection open. edgeway sends no blocking command
 * (BLPOP, XREAD, WAIT), so no command of edgeway's legitimately waits this long; the subscriber
 * connection goes without (see createRedisClient).
 */
export const REDIS_COMMAND_TIMEOUT_MS = 5000;

/**
 * Shared by every topology. One retry per request: a request must fail fast into the rate limiter's
 * local fallback rather than queue behind a reconnect; auto-pipelining batches concurrent commands.
 */
const COMMON: RedisOptions = {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
  connectTimeout: 2000,
  retryStrategy: (times: number) => Math.min(times * 100, 1000),
};

// After a Sentinel failover the old master comes back as a replica: a write there answers READONLY,
// and reconnecting (2 = reconnect and resend) makes ioredis ask the Sentinels for the new master.
const reconnectOnReadonly = (err: Error): 2 | false =>
  err.message.startsWith('READONLY') ? 2 : false;

const URL_SHAPE = /^([a-z+]+):\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i;

function parseNode(text: string, defaultPort: number): RedisNode {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(text);
  const match = bracketed ?? plain;
  if (match === null || match[1] === undefined || match[1] === '')
    throw new RedisUrlError(`bad host "${text}"`);
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new RedisUrlError(`bad port in "${text}"`);
  return { host: match[1], port };
}

function parseDb(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 15)
    throw new RedisUrlError(`bad database number "${text}" (0-15)`);
  return Number(text);
}

function parseAuth(userinfo: string | undefined): { username?: string; password?: string } {
  if (userinfo === undefined || userinfo === '') return {};
  const colon = userinfo.indexOf(':');
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new RedisUrlError('bad percent-encoding in the credentials');
    }
  };
  if (colon < 0) return { password: decode(userinfo) };
  const username = decode(userinfo.slice(0, colon));
  const password = decode(userinfo.slice(colon + 1));
  return { ...(username === '' ? {} : { username }), ...(password === '' ? {} : { password }) };
}

function parseQuery(query: string | undefined, allowed: readonly string[]): Map<string, string> {
  const params = new Map<string, string>();
  if (query === undefined || query === '') return params;
  for (const [key, value] of new URLSearchParams(query)) {
    if (!allowed.includes(key))
      throw new RedisUrlError(
        `unknown query parameter "${key}"${allowed.length > 0 ? ` (accepted: ${allowed.join(', ')})` : ''}`,
      );
    params.set(key, value);
  }
  return params;
}

/** Parses `url` into the topology and the ioredis options to connect with; throws RedisUrlError. */
export function parseRedisUrl(url: string): RedisTopology {
  const shape = URL_SHAPE.exec(url.trim());
  if (shape === null) throw new RedisUrlError(`cannot read "${redact(url)}"`);
  const [, rawScheme = '', userinfo, hostList = '', path = '', query] = shape;
  const scheme = rawScheme.toLowerCase();
  const tls = scheme.startsWith('rediss');
  const kind = (
    {
      redis: 'standalone',
      rediss: 'standalone',
      'redis+sentinel': 'sentinel',
      'rediss+sentinel': 'sentinel',
      'redis+cluster': 'cluster',
      'rediss+cluster': 'cluster',
    } as const
  )[scheme];
  if (kind === undefined) throw new RedisUrlError(`unknown scheme "${rawScheme}:"`);
  if (hostList === '') throw new RedisUrlError('no host');
  const nodes = hostList.split(',').map((h) => parseNode(h, DEFAULT_PORT[kind]));
  const auth = parseAuth(userinfo);
  const segments = path.split('/').filter((s) => s !== '');
  const tlsOptions = tls ? { tls: {} } : {};

  if (kind === 'standalone') {
    if (nodes.length > 1)
      throw new RedisUrlError(
        `${nodes.length} hosts in a standalone URL (use redis+sentinel:// or redis+cluster:// for several)`,
      );
    if (segments.length > 1) throw new RedisUrlError(`bad path "${path}" (only /db)`);
    parseQuery(query, []);
    const node = nodes[0] as RedisNode;
    const db = segments[0] === undefined ? {} : { db: parseDb(segments[0]) };
    return {
      kind,
      options: { ...COMMON, ...auth, ...db, ...tlsOptions, host: node.host, port: node.port },
    };
  }
  if (kind === 'sentinel') {
    const [name, dbText, ...rest] = segments;
    if (name === undefined)
      throw new RedisUrlError('no master name (redis+sentinel://host:26379/mastername)');
    if (rest.length > 0) throw new RedisUrlError(`bad path "${path}" (only /mastername[/db])`);
    const params = parseQuery(query, ['sentinelPassword']);
    const sentinelPassword = params.get('sentinelPassword');
    return {
      kind,
      options: {
        ...COMMON,
        ...auth,
        ...(dbText === undefined ? {} : { db: parseDb(dbText) }),
        ...tlsOptions,
        ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        ...(sentinelPassword === undefined ? {} : { sentinelPassword }),
        sentinels: nodes.map((n) => ({ host: n.host, port: n.port })),
        name,
        // Sentinel announces +switch-master; listening for it notices a failover before a timeout would.
        failoverDetector: true,
        sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1000),
        reconnectOnError: reconnectOnReadonly,
      },
    };
  }
  // Redis Cluster has one database only, so a /db path is a mistake rather than something to ignore.
  if (segments.length > 0)
    throw new RedisUrlError(`bad path "${path}" (a Cluster has no database number)`);
  parseQuery(query, []);
  // ioredis' Cluster retries through clusterRetryStrategy; a per-node retryStrategy is not accepted there.
  const { retryStrategy: _clusterRetriesInstead, ...perNode } = COMMON;
  return {
    kind,
    nodes,
    options: {
      enableAutoPipelining: true,
      clusterRetryStrategy: (times: number) => Math.min(times * 100, 1000),
      slotsRefreshTimeout: 2000,
      redisOptions: { ...perNode, ...auth, ...tlsOptions },
    },
  };
}

/**
 * Opens a client for a parsed topology; connection errors surface through retries and command failures.
 * A `subscriber` has no command timeout: its listeners re-SUBSCRIBE only when the connection comes
 * back, so a SUBSCRIBE given up while a hung Redis keeps the connection open would leave the channel
 * unheard once Redis answers again.
 */
export function createRedisClient(
  topology: RedisTopology,
  role: 'commands' | 'subscriber' = 'commands',
): RedisClient {
  const untimed = role === 'subscriber' ? { commandTimeout: undefined } : {};
  if (topology.kind === 'cluster')
    return new Cluster(
      topology.nodes.map((n) => ({ host: n.host, port: n.port })),
      { ...topology.options, redisOptions: { ...topology.options.redisOptions, ...untimed } },
    );
  return new Redis({ ...topology.options, ...untimed });
}

/** The URL with any password replaced by `***`, for logs and error messages. */
export function redact(url: string): string {
  return url.replace(
    /\/\/([^@/]*)@/,
    (_m, userinfo: string) =>
      `//${userinfo.includes(':') ? `${userinfo.slice(0, userinfo.indexOf(':'))}:***` : '***'}@`,
  );
}
