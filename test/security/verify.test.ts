/** The attack matrix: every way a bearer token can be wrong, each with its exact 401/403 challenge. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CompactSign,
  SignJWT,
  base64url,
  exportSPKI,
  generateKeyPair,
  exportJWK,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import { rsaKey, startJwksServer, tempDir, type JwksServer } from './fixtures.js';

const IDP = 'https://idp.example.test/';
const INVALID = 'Bearer error="invalid_token"';

let jwks: JwksServer;
let idpKey: Awaited<ReturnType<typeof rsaKey>>;
let security: Security;
let dir: Awaited<ReturnType<typeof tempDir>>;

before(async () => {
  idpKey = await rsaKey('idp-1');
  jwks = await startJwksServer([idpKey.publicJwk]);
  dir = await tempDir();
  const { auth } = configSchema.parse({
    auth: {
      issuers: [
        { issuer: IDP, audience: 'api', jwksUri: jwks.url },
        { issuer: 'edgeway', audience: 'api' },
      ],
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      clockSkew: '30s',
    },
  });
  // No JWKS cool-down: an unknown kid is looked for at once, so it is refused at once (idp-rotation.test.ts covers the cool-down).
  security = await createSecurity({ kind: 'memory', dataDir: dir.path }, auth, {
    invalidTokensPerMinute: 10_000,
    remoteJwks: { cooldown: 0 },
  });
});

after(async () => {
  await security.close();
  await jwks.close();
  await dir.remove();
});

const nowSec = (): number => Math.floor(Date.now() / 1000);

/** A token from the fake IdP; `claims`/`header` override the valid defaults. */
function idpToken(
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  key: CryptoKey = idpKey.privateKey,
): Promise<string> {
  return new SignJWT({ scope: 'orders:read orders:write', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'idp-1', ...header })
    .setIssuer(typeof claims['iss'] === 'string' ? claims['iss'] : IDP)
    .setAudience(typeof claims['aud'] === 'string' ? claims['aud'] : 'api')
    .setSubject(typeof claims['sub'] === 'string' ? claims['sub'] : 'user-1')
    .setIssuedAt()
    .setExpirationTime(typeof claims['exp'] === 'number' ? claims['exp'] : nowSec() + 300)
    .sign(key);
}

/** A token signed with edgeway's current private key (read from the data dir), with any claims. */
async function ownToken(claims: Record<string, unknown>): Promise<string> {
  const { keys } = JSON.parse(await readFile(join(dir.path, 'keys.json'), 'utf8')) as {
    keys: Array<{ kid: string; state?: string; current?: boolean; privateJwk: JWK }>;
  };
  const record = keys.find((k) => k.state === 'current' || k.current === true);
  if (record === undefined) throw new Error('no current key in keys.json');
  const key = (await importJWK(record.privateJwk, 'ES256')) as CryptoKey;
  return new SignJWT({ iss: 'edgeway', aud: 'api', sub: 'svc', exp: nowSec() + 300, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: record.kid })
    .sign(key);
}

async function rejection(authorization: string | undefined): Promise<GatewayError> {
  try {
    await security.authenticate(authorization, '192.0.2.1');
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    return err;
  }
  assert.fail('the token was accepted');
}

/** Asserts the exact SPEC challenge and, when given, the reason the error body's message carries. */
async function assertRejected(
  authorization: string | undefined,
  challenge: string,
  description?: string,
): Promise<void> {
  const err = await rejection(authorization);
  assert.equal(err.code, 'unauthorized');
  assert.equal(err.status, 401);
  assert.deepEqual(err.headers, [['www-authenticate', challenge]]);
  if (description !== undefined) assert.equal(err.message, `invalid token: ${description}`);
}

describe('a request is refused with 401 when', () => {
  test('it carries no token, with the bare realm challenge', async () => {
    await assertRejected(undefined, 'Bearer realm="edgeway"');
    await assertRejected('Basic dXNlcjpwYXNz', 'Bearer realm="edgeway"');
  });

  test('the bearer syntax is malformed', async () => {
    await assertRejected('Bearer', INVALID, 'malformed bearer token');
    await assertRejected('Bearer a b', INVALID, 'malformed bearer token');
    await assertRejected('Bearer not.a.jwt', INVALID, 'malformed token');
  });

  test('the Authorization header is over 8 KiB', async () => {
    await assertRejected(`Bearer ${'a'.repeat(9000)}`, INVALID, 'authorization header too large');
  });

  test('alg is none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(
      JSON.stringify({ iss: IDP, aud: 'api', sub: 'x', exp: nowSec() + 300 }),
    );
    await assertRejected(`Bearer ${header}.${payload}.`, INVALID, 'algorithm not allowed');
  });

  test('it is HS256-signed with the RSA public key PEM as the secret', async () => {
    const pem = await exportSPKI(idpKey.publicKey);
    const forged = await new SignJWT({ scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256', kid: 'idp-1' })
      .setIssuer(IDP)
      .setAudience('api')
      .setSubject('attacker')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    await assertRejected(`Bearer ${forged}`, INVALID, 'algorithm not allowed');
  });

  test('the payload was tampered with', async () => {
    const [head, , signature] = (await idpToken()).split('.');
    const payload = base64url.encode(
      JSON.stringify({ iss: IDP, aud: 'api', sub: 'user-1', scope: 'admin', exp: nowSec() + 300 }),
    );
    await assertRejected(
      `Bearer ${head}.${payload}.${signature}`,
      INVALID,
      'signature verification failed',
    );
  });

  test('it expired beyond the clock skew', async () => {
    await assertRejected(
      `Bearer ${await idpToken({ exp: nowSec() - 120 })}`,
      INVALID,
      'token expired',
    );
  });

  test('it is not yet valid beyond the clock skew', async () => {
    await assertRejected(
      `Bearer ${await idpToken({ nbf: nowSec() + 120 })}`,
      INVALID,
      'token not yet valid',
    );
  });

  test('its issuer is not configured', async () => {
    await assertRejected(
      `Bearer ${await idpToken({ iss: 'https://evil.example.test/' })}`,
      INVALID,
      'unknown issuer',
    );
  });

  test('its audience is wrong', async () => {
    await assertRejected(
      `Bearer ${await idpToken({ aud: 'other-api' })}`,
      INVALID,
      'wrong audience',
    );
  });

  test('its kid is unknown to the issuer', async () => {
    const stranger = await rsaKey('idp-unknown');
    await assertRejected(
      `Bearer ${await idpToken({}, { kid: 'idp-unknown' }, stranger.privateKey)}`,
      INVALID,
      'no key matches the token',
    );
  });

  test('it embeds its own jwk', async () => {
    const attacker = await rsaKey('idp-1');
    const token = await idpToken(
      {},
      { jwk: await exportJWK(attacker.publicKey) },
      attacker.privateKey,
    );
    await assertRejected(`Bearer ${token}`, INVALID, 'the jwk header is not accepted');
  });

  test('jku, x5u or x5c point elsewhere', async () => {
    const attacker = await rsaKey('idp-1');
    for (const [name, value] of [
      ['jku', 'https://evil.example.test/jwks.json'],
      ['x5u', 'https://evil.example.test/cert.pem'],
      ['x5c', ['MIIB']],
    ] as const) {
      const token = await idpToken({}, { [name]: value }, attacker.privateKey);
      await assertRejected(`Bearer ${token}`, INVALID, `the ${name} header is not accepted`);
    }
  });

  test('its algorithm is not on the allowlist', async () => {
    const { privateKey } = await generateKeyPair('ES384');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: 'idp-1' })
      .setIssuer(IDP)
      .setAudience('api')
      .setSubject('user-1')
      .setExpirationTime('5m')
      .sign(privateKey);
    await assertRejected(`Bearer ${token}`, INVALID, 'algorithm not allowed');
  });

  test('its algorithm is off the allowlist although the IdP key (a JWK without alg) fits it: PS256', async () => {
    const { privateKey, publicKey } = await generateKeyPair('PS256', { extractable: true });
    jwks.setKeys([idpKey.publicJwk, { ...(await exportJWK(publicKey)), kid: 'idp-noalg' }]);
    try {
      const token = await idpToken({}, { alg: 'PS256', kid: 'idp-noalg' }, privateKey);
      await assertRejected(`Bearer ${token}`, INVALID, 'algorithm not allowed');
    } finally {
      jwks.setKeys([idpKey.publicJwk]);
    }
  });

  test('it has no exp', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .setIssuer(IDP)
      .setAudience('api')
      .setSubject('user-1')
      .sign(idpKey.privateKey);
    await assertRejected(`Bearer ${token}`, INVALID, 'missing exp claim');
  });

  test('its sub is empty, from an IdP or from edgeway', async () => {
    await assertRejected(`Bearer ${await idpToken({ sub: '' })}`, INVALID, 'empty sub claim');
    await assertRejected(`Bearer ${await ownToken({ sub: '' })}`, INVALID, 'empty sub claim');
  });

  test("edgeway's own key signed it to live longer than the 24h maximum (exp 1e300)", async () => {
    await assertRejected(
      `Bearer ${await ownToken({ exp: 1e300 })}`,
      INVALID,
      'token lifetime exceeds the 24h maximum',
    );
    await assertRejected(
      `Bearer ${await ownToken({ exp: nowSec() + 25 * 3600 })}`,
      INVALID,
      'token lifetime exceeds the 24h maximum',
    );
  });

  test("an IdP's token lives longer than the 30-day maximum: exp 31 days ahead, 1e300, or 1e400 (Infinity)", async () => {
    const tooLong = 'token lifetime exceeds the 30d maximum';
    await assertRejected(
      `Bearer ${await idpToken({ exp: nowSec() + 31 * 86_400 })}`,
      INVALID,
      tooLong,
    );
    await assertRejected(`Bearer ${await idpToken({ exp: 1e300 })}`, INVALID, tooLong);
    // JSON.parse reads 1e400 as Infinity, which SignJWT cannot write: the payload is signed byte for byte.
    const infinite = await new CompactSign(
      new TextEncoder().encode(`{"iss":"${IDP}","aud":"api","sub":"user-1","exp":1e400}`),
    )
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .sign(idpKey.privateKey);
    await assertRejected(`Bearer ${infinite}`, INVALID, 'invalid exp claim');
  });

  test('it was revoked, even after being cached', async () => {
    const issued = await security.issueToken({ sub: 'svc', scopes: ['a'], ttlMs: 60_000 });
    await security.authenticate(`Bearer ${issued.token}`, '192.0.2.1');
    await security.revoke(issued.jti, issued.expiresAt);
    await assertRejected(`Bearer ${issued.token}`, INVALID, 'token revoked');
  });
});

describe('a request is accepted when', () => {
  test('exp and nbf are off by less than the clock skew', async () => {
    const principal = await security.authenticate(
      `Bearer ${await idpToken({ exp: nowSec() - 10, nbf: nowSec() + 10 })}`,
      '192.0.2.1',
    );
    assert.equal(principal.sub, 'user-1');
  });

  test("an IdP's token lives up to 30 days", async () => {
    const principal = await security.authenticate(
      `Bearer ${await idpToken({ exp: nowSec() + 30 * 86_400 - 60 })}`,
      '192.0.2.1',
    );
    assert.equal(principal.sub, 'user-1');
  });

  test('an IdP token is valid, with scopes from `scope` or `scp`', async () => {
    const fromScope = await security.authenticate(`Bearer ${await idpToken()}`, '192.0.2.1');
    assert.deepEqual(fromScope.scopes, ['orders:read', 'orders:write']);
    assert.equal(fromScope.claims['iss'], IDP);
    const fromScp = await security.authenticate(
      `Bearer ${await idpToken({ scope: undefined, scp: ['x', 'y'] })}`,
      '192.0.2.1',
    );
    assert.deepEqual(fromScp.scopes, ['x', 'y']);
  });

  test('edgeway issued it (aud defaults to the edgeway issuer audience)', async () => {
    const issued = await security.issueToken({
      sub: 'svc-7',
      scopes: ['orders:read'],
      ttlMs: 60_000,
    });
    const principal = await security.authenticate(`bearer ${issued.token}`, '192.0.2.1');
    assert.equal(principal.sub, 'svc-7');
    assert.equal(principal.claims['aud'], 'api');
    assert.equal(principal.claims['jti'], issued.jti);
  });
});

describe('a config reload', () => {
  test('leaves an authenticator of the old config (a snapshot still serving requests) on that config, and shares no verdict with the new one', async () => {
    const token = `Bearer ${await idpToken()}`;
    const old = security.authenticator();
    const parse = (audience: string) =>
      configSchema.parse({
        auth: {
          issuers: [
            { issuer: IDP, audience, jwksUri: jwks.url },
            { issuer: 'edgeway', audience: 'api' },
          ],
        },
      }).auth;
    security.reconfigure(parse('other-api'));
    try {
      // Verified by the old config after the reload, as a request in flight on the old snapshot is.
      assert.equal((await old(token, '192.0.2.1')).sub, 'user-1');
      const fresh = security.authenticator();
      await assert.rejects(
        async () => fresh(token, '192.0.2.1'),
        (err: unknown) =>
          err instanceof GatewayError && err.message === 'invalid token: wrong audience',
      );
    } finally {
      security.reconfigure(parse('api'));
    }
  });

  test('applies new issuer rules to tokens verified before', async () => {
    const token = `Bearer ${await idpToken()}`;
    await security.authenticate(token, '192.0.2.1');
    const { auth } = configSchema.parse({
      auth: {
        issuers: [
          { issuer: IDP, audience: 'other-api', jwksUri: jwks.url },
          { issuer: 'edgeway', audience: 'api' },
        ],
      },
    });
    security.reconfigure(auth);
    try {
      await assertRejected(token, INVALID, 'wrong audience');
    } finally {
      security.reconfigure(
        configSchema.parse({
          auth: {
            issuers: [
              { issuer: IDP, audience: 'api', jwksUri: jwks.url },
              { issuer: 'edgeway', audience: 'api' },
            ],
          },
        }).auth,
      );
    }
  });
});

describe('scopes', () => {
  const principal = { sub: 'u', scopes: ['orders:read'], claims: {} };

  test('a missing one is 403 naming every required scope', () => {
    assert.throws(
      () => security.checkScopes(principal, ['orders:read', 'orders:write']),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'forbidden');
        assert.equal(err.status, 403);
        assert.deepEqual(err.headers, [
          [
            'www-authenticate',
            'Bearer error="insufficient_scope", scope="orders:read orders:write"',
          ],
        ]);
        return true;
      },
    );
  });

  test('holding all of them passes', () => {
    assert.doesNotThrow(() =>
      security.checkScopes({ ...principal, scopes: ['orders:write', 'orders:read'] }, [
        'orders:read',
        'orders:write',
      ]),
    );
    assert.doesNotThrow(() => security.checkScopes(principal, []));
  });
});

describe('issuing', () => {
  test('refuses a ttl over 24h and bad scopes', async () => {
    await assert.rejects(
      security.issueToken({ sub: 's', scopes: [], ttlMs: 25 * 3_600_000 }),
      /at most 24h/,
    );
    await assert.rejects(
      security.issueToken({ sub: 's', scopes: ['a"b'], ttlMs: 60_000 }),
      /invalid scope/,
    );
  });

  test('publishes only public key parts in the JWKS', () => {
    const set = security.jwks();
    assert.ok(set.keys.length >= 1);
    for (const key of set.keys as JWK[]) {
      assert.equal(key.d, undefined);
      assert.equal(key.use, 'sig');
      assert.equal(typeof key.kid, 'string');
    }
  });
});
