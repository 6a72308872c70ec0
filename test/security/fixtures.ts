/** Shared test fixtures of the security suite: a real JWKS HTTP server, temp data dirs and store backends. */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import type { StoreBackend } from '../../src/store/backend.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/** A JWKS endpoint on 127.0.0.1 whose keys, availability and request count the test controls. */
export interface JwksServer {
  readonly url: string;
  /** GET requests served (or refused) so far. */
  readonly requests: number;
  setKeys(keys: JWK[]): void;
  /** While down, every request is answered 503. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startJwksServer(initial: JWK[]): Promise<JwksServer> {
  let keys = initial;
  let down = false;
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests += 1;
    if (down) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    setKeys: (next) => {
      keys = next;
    },
    setDown: (next) => {
      down = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An RSA key pair for the fake IdP, with its public JWK carrying `kid` and `alg`. */
export async function rsaKey(
  kid: string,
): Promise<{ privateKey: CryptoKey; publicJwk: JWK; publicKey: CryptoKey }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    privateKey,
    publicKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

/** A fresh temp dir, removed by the returned cleanup. */
export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'edgeway-security-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** A Redis backend (two connections) on `port`, and the function that closes it. */
export function redisBackend(
  port: number,
  dataDir: string,
): { backend: StoreBackend; close: () => void } {
  const redis = new Redis({ port, host: '127.0.0.1' });
  const subscriber = new Redis({ port, host: '127.0.0.1' });
  return {
    backend: { kind: 'redis', redis, subscriber, dataDir },
    close: () => {
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}

/** Security cores on one throwaway redis-server, each on its own two connections (a gateway's or the CLI's). */
export interface RedisSecurityCores {
  /** The server, to stop or restart it. */
  redis(): TestRedis;
  /** A new core on edgeway's own issuer; closed when the file's tests end. */
  core(): Promise<Security>;
}

/** Starts a redis-server before the file's tests and closes it and every core after them. */
export function redisSecurityCores(): RedisSecurityCores {
  const { auth } = configSchema.parse({
    auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
  });
  let redis: TestRedis;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const cleanups: Array<() => Promise<void> | void> = [];
  before(async () => {
    redis = await startRedis();
    dir = await tempDir();
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await redis.stop();
    await dir.remove();
  });
  return {
    redis: () => redis,
    async core() {
      const { backend, close } = redisBackend(redis.port, dir.path);
      const security = await createSecurity(backend, auth);
      cleanups.push(close, () => security.close());
      return security;
    },
  };
}

/** What a core makes of a bearer token: its `sub` when it verifies, else the refusal's code or message. */
export async function verdict(
  security: Security,
  token: string,
  detail: 'code' | 'message',
): Promise<string> {
  try {
    return (await security.authenticate(`Bearer ${token}`, '192.0.2.1')).sub;
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return err[detail];
  }
}
