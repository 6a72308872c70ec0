/** An IdP key rotation and a forging neighbour behind one address: the invalid-token throttle never refuses a valid token. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, type CryptoKey } from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import { rsaKey, startJwksServer, tempDir, type JwksServer } from './fixtures.js';

const IDP = 'https://idp.example.test/';
const NAT = '198.51.100.7';

let jwks: JwksServer;
let dir: Awaited<ReturnType<typeof tempDir>>;
let keyA: Awaited<ReturnType<typeof rsaKey>>;
let keyB: Awaited<ReturnType<typeof rsaKey>>;
let forger: Awaited<ReturnType<typeof rsaKey>>;

before(async () => {
  [keyA, keyB, forger] = await Promise.all([rsaKey('key-a'), rsaKey('key-b'), rsaKey('key-a')]);
  jwks = await startJwksServer([keyA.publicJwk]);
  dir = await tempDir();
});

after(async () => {
  await jwks.close();
  await dir.remove();
});

/** A security core with the production defaults (20 invalid tokens a minute, 30 s JWKS cool-down) on a hand-moved clock. */
async function securityAt(
  start: number,
): Promise<{ security: Security; advance: (ms: number) => void }> {
  let now = start;
  const { auth } = configSchema.parse({
    auth: { issuers: [{ issuer: IDP, audience: 'api', jwksUri: jwks.url }], algorithms: ['RS256'] },
  });
  const security = await createSecurity({ kind: 'memory', dataDir: dir.path }, auth, {
    now: () => now,
  });
  return {
    security,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** Expiry of every token: after each test's clock (2026-01-01 to 01-03), within an IdP token's 30-day limit. */
const EXP = Date.parse('2026-01-04T00:00:00Z') / 1000;

function idpToken(kid: string, key: CryptoKey, sub = 'client-1'): Promise<string> {
  return new SignJWT({ scope: 'orders:read' })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(IDP)
    .setAudience('api')
    .setSubject(sub)
    .setExpirationTime(EXP)
    .sign(key);
}

/** 'ok', or the error code with its Retry-After. */
async function outcome(security: Security, token: string, ip = NAT): Promise<string> {
  try {
    await security.authenticate(`Bearer ${token}`, ip);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    const retryAfter = err.headers.find(([name]) => name === 'retry-after')?.[1];
    return retryAfter === undefined ? err.code : `${err.code} retry-after ${retryAfter}`;
  }
}

describe('after the IdP rotates its signing key', () => {
  test('a client polling every 500 ms is never counted as an attacker and gets in as soon as the cool-down allows a refetch', async () => {
    jwks.setKeys([keyA.publicJwk]);
    const { security, advance } = await securityAt(Date.parse('2026-01-01T00:00:00Z'));
    try {
      assert.equal(await outcome(security, await idpToken('key-a', keyA.privateKey)), 'ok');
      const fetchedBefore = jwks.requests;
      jwks.setKeys([keyA.publicJwk, keyB.publicJwk]);
      const rotated = await idpToken('key-b', keyB.privateKey);
      const seen: string[] = [];
      // 70 polls over 35 s: before the fix the 21st was refused for 300 s and the JWKS was never fetched again.
      for (let poll = 0; poll < 70; poll += 1) {
        seen.push(await outcome(security, rotated));
        advance(500);
      }
      const firstOk = seen.indexOf('ok');
      assert.ok(
        firstOk > 0 && firstOk <= 60,
        `first success at poll ${firstOk}: ${seen.join(', ')}`,
      );
      assert.ok(
        seen.slice(0, firstOk).every((s) => /^unavailable retry-after \d+$/.test(s)),
        seen.slice(0, firstOk).join(', '),
      );
      assert.ok(
        seen.slice(firstOk).every((s) => s === 'ok'),
        seen.slice(firstOk).join(', '),
      );
      assert.equal(jwks.requests - fetchedBefore, 1, 'one refetch, when the cool-down ended');
    } finally {
      await security.close();
    }
  });

  test('a kid that the refetch did not find is invalid, and counted, from then on', async () => {
    jwks.setKeys([keyA.publicJwk]);
    const { security, advance } = await securityAt(Date.parse('2026-01-02T00:00:00Z'));
    try {
      assert.equal(await outcome(security, await idpToken('key-a', keyA.privateKey)), 'ok');
      const unknown = await idpToken('key-z', keyB.privateKey);
      assert.match(await outcome(security, unknown), /^unavailable retry-after/);
      advance(30_000);
      assert.equal(await outcome(security, unknown), 'unauthorized');
      const after = [];
      for (let i = 0; i < 25; i += 1) after.push(await outcome(security, unknown));
      assert.match(after.at(-1) as string, /^rate_limited/);
    } finally {
      await security.close();
    }
  });
});

describe('an address blocked for forged tokens', () => {
  test('still gets a valid token through, while forgeries are checked only a few times a second', async () => {
    jwks.setKeys([keyA.publicJwk]);
    const { security, advance } = await securityAt(Date.parse('2026-01-03T00:00:00Z'));
    try {
      const forgeries = await Promise.all(
        Array.from({ length: 40 }, (_, i) => idpToken('key-a', forger.privateKey, `victim-${i}`)),
      );
      const answers: string[] = [];
      for (const forged of forgeries) answers.push(await outcome(security, forged));
      assert.equal(answers.slice(0, 20).filter((a) => a === 'unauthorized').length, 20);
      assert.ok(
        answers.slice(20).every((a) => a.startsWith('rate_limited')),
        answers.slice(20).join(', '),
      );
      // Blocked: only 5 checks a second; the rest are refused without a signature check (Retry-After 1).
      assert.equal(
        answers.filter((a) => a === 'rate_limited retry-after 1').length,
        40 - 20 - 5 - 1,
      );

      advance(1000);
      const valid = await idpToken('key-a', keyA.privateKey, 'neighbour');
      assert.equal(
        await outcome(security, valid),
        'ok',
        'a valid token from the blocked address is accepted',
      );
      for (const forged of forgeries.slice(0, 10)) await outcome(security, forged);
      assert.equal(
        await outcome(security, valid),
        'ok',
        'once verified it needs no check, whatever the forger does',
      );
      assert.equal(
        await outcome(security, forgeries[0] as string, '203.0.113.9'),
        'unauthorized',
        'other addresses are not affected',
      );
    } finally {
      await security.close();
    }
  });
});
