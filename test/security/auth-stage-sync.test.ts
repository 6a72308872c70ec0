/** The auth stage answers a cached token synchronously (no promise), and still refuses what it must. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import type { RequestContext, Stage } from '../../src/request/context.js';
import { buildAuthStage } from '../../src/security/auth-stage.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import { tempDir } from './fixtures.js';

const config = configSchema.parse({
  auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
  services: { api: { instances: ['http://127.0.0.1:1'] } },
  routes: [{ name: 'r', service: 'api', auth: { scopes: ['read'] } }],
});
const route = config.routes[0] as (typeof config.routes)[number];

/** The keep-alive connection requests arrive on unless a test names another. */
const shared = {};

// The stage reads the request headers, socket, query and client address, and writes principal and upstream headers.
function context(authorization: string, socket: object = shared): RequestContext {
  return {
    req: { headers: { authorization }, socket } as unknown as IncomingMessage,
    res: {} as ServerResponse,
    query: '',
    clientIp: '192.0.2.1',
    principal: undefined,
    upstreamHeaders: [],
    responseHeaders: [],
  } as unknown as RequestContext;
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let security: Security;
let stage: Stage;

before(async () => {
  dir = await tempDir();
  security = await createSecurity({ kind: 'memory', dataDir: dir.path }, config.auth);
  stage = buildAuthStage(route, security) as Stage;
});
after(async () => {
  await security.close();
  await dir.remove();
});

describe('auth stage on a cached token', () => {
  test('the first request verifies (a promise); a repeat is decided at once, with the same identity', async () => {
    const { token } = await security.issueToken({ sub: 'svc', scopes: ['read'], ttlMs: 60_000 });
    const first = context(`Bearer ${token}`);
    const pending = stage(first);
    assert.ok(pending instanceof Promise);
    await pending;
    const again = context(`Bearer ${token}`);
    assert.equal(stage(again), undefined);
    assert.equal(again.principal?.sub, 'svc');
    assert.deepEqual(again.upstreamHeaders, [
      ['x-edgeway-sub', 'svc'],
      ['x-edgeway-scopes', 'read'],
    ]);
    assert.deepEqual(again.upstreamHeaders, first.upstreamHeaders);
  });

  test('a cached token without the route scope is refused synchronously with 403', async () => {
    const { token } = await security.issueToken({ sub: 'svc', scopes: ['other'], ttlMs: 60_000 });
    await stage(context(`Bearer ${token}`))?.catch(() => undefined);
    assert.throws(
      () => stage(context(`Bearer ${token}`)),
      (err: unknown) => err instanceof GatewayError && err.status === 403,
    );
  });

  test('a revoked cached token is refused (401) even though its verdict is cached', async () => {
    const issued = await security.issueToken({ sub: 'svc', scopes: ['read'], ttlMs: 60_000 });
    await stage(context(`Bearer ${issued.token}`));
    await security.revoke(issued.jti);
    await assert.rejects(
      async () => stage(context(`Bearer ${issued.token}`)),
      (err: unknown) =>
        err instanceof GatewayError && err.message === 'invalid token: token revoked',
    );
  });

  test('a malformed token is still refused though only a cache miss checks its syntax', async () => {
    await assert.rejects(
      async () => stage(context('Bearer a,b')),
      (err: unknown) =>
        err instanceof GatewayError && err.message === 'invalid token: malformed bearer token',
    );
  });

  test('a connection that switches tokens is answered for each token it sends, revocation included', async () => {
    const socket = {};
    const alice = await security.issueToken({ sub: 'alice', scopes: ['read'], ttlMs: 60_000 });
    const bob = await security.issueToken({ sub: 'bob', scopes: ['read'], ttlMs: 60_000 });
    const subOf = async (token: string): Promise<string | undefined> => {
      const ctx = context(`Bearer ${token}`, socket);
      await stage(ctx);
      return ctx.principal?.sub;
    };
    const seen = [];
    for (const token of [alice.token, alice.token, bob.token, bob.token, alice.token])
      seen.push(await subOf(token));
    assert.deepEqual(seen, ['alice', 'alice', 'bob', 'bob', 'alice']);
    await security.revoke(alice.jti);
    await assert.rejects(
      () => subOf(alice.token),
      (err: unknown) =>
        err instanceof GatewayError && err.message === 'invalid token: token revoked',
    );
    assert.equal(await subOf(bob.token), 'bob');
  });
});
