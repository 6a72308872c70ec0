/** Publish first, sign later: a verifier that cached edgeway's JWKS before `keys rotate` verifies tokens signed after it without a refetch. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import { tempDir } from './fixtures.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let security: Security;
let server: Server;
let url: string;
let fetches = 0;

before(async () => {
  dir = await tempDir();
  const { auth } = configSchema.parse({
    auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
  });
  security = await createSecurity({ kind: 'memory', dataDir: dir.path }, auth);
  // The JWKS as another service fetches it, with the gateway's cache header.
  server = createServer((_req, res) => {
    fetches += 1;
    res
      .writeHead(200, {
        'content-type': 'application/json',
        'cache-control': 'public, max-age=300',
      })
      .end(JSON.stringify(security.jwks()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  url = `http://127.0.0.1:${address.port}/.well-known/jwks.json`;
});

after(async () => {
  await security.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await dir.remove();
});

test('a jose createRemoteJWKSet verifier that fetched before the rotation verifies a token signed after it, without fetching again', async () => {
  // Honours max-age=300 and never refetches sooner for an unknown kid.
  const keySet = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: 300_000,
    cooldownDuration: 300_000,
  });
  const before = await security.issueToken({ sub: 'svc', scopes: [], ttlMs: 60_000 });
  assert.equal(
    (await jwtVerify(before.token, keySet, { issuer: 'edgeway', audience: 'api' })).payload.sub,
    'svc',
  );
  assert.equal(fetches, 1);

  const current = await security.keys.rotate();
  const after = await security.issueToken({ sub: 'svc', scopes: [], ttlMs: 60_000 });
  const { payload, protectedHeader } = await jwtVerify(after.token, keySet, {
    issuer: 'edgeway',
    audience: 'api',
  });
  assert.equal(protectedHeader.kid, current.kid, 'new tokens carry the new kid at once');
  assert.equal(payload.sub, 'svc');
  assert.equal(fetches, 1, 'the verifier fetched the JWKS again');
});
