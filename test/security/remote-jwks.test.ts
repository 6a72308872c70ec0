/** Remote JWKS against a real HTTP server: rotation, IdP outages and floods of unknown kids. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey } from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { TokenVerifier } from '../../src/security/verify.js';
import { rsaKey, startJwksServer, type JwksServer } from './fixtures.js';

const IDP = 'https://idp.example.test/';
const COOLDOWN = 30_000;
const MAX_AGE = 600_000;

let server: JwksServer;
let keyA: Awaited<ReturnType<typeof rsaKey>>;
let keyB: Awaited<ReturnType<typeof rsaKey>>;

before(async () => {
  keyA = await rsaKey('key-a');
  keyB = await rsaKey('key-b');
  server = await startJwksServer([keyA.publicJwk]);
});

after(() => server.close());

/** A verifier on a clock the test moves by hand. */
function verifierAt(start: number): {
  verifier: TokenVerifier;
  advance: (ms: number) => void;
  errors: unknown[];
} {
  let now = start;
  const errors: unknown[] = [];
  const { auth } = configSchema.parse({
    auth: { issuers: [{ issuer: IDP, audience: 'api', jwksUri: server.url }] },
  });
  const verifier = new TokenVerifier(auth, {
    now: () => now,
    remote: {
      cooldown: COOLDOWN,
      maxAge: MAX_AGE,
      timeout: 2000,
      onError: (err) => errors.push(err),
    },
  });
  return {
    verifier,
    advance: (ms) => {
      now += ms;
    },
    errors,
  };
}

function token(kid: string, key: CryptoKey): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(IDP)
    .setAudience('api')
    .setSubject('u')
    .setExpirationTime('2h')
    .sign(key);
}

async function rejectionOf(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GatewayError);
    return err;
  }
  assert.fail('accepted');
}

describe('a remote JWKS', () => {
  test('picks up a key the IdP rotated in, once the cool-down allows', async () => {
    server.setKeys([keyA.publicJwk]);
    const { verifier, advance } = verifierAt(Date.now());
    assert.equal((await verifier.verify(await token('key-a', keyA.privateKey))).principal.sub, 'u');
    server.setKeys([keyA.publicJwk, keyB.publicJwk]);
    const rotated = await token('key-b', keyB.privateKey);
    // Within the cool-down no fetch happens: the new kid is not yet known, which is not the token's fault.
    const early = await rejectionOf(verifier.verify(rotated));
    assert.equal(early.code, 'unavailable');
    advance(COOLDOWN);
    assert.equal((await verifier.verify(rotated)).principal.sub, 'u');
  });

  test('keeps verifying with the last good keys while the IdP is down', async () => {
    server.setKeys([keyA.publicJwk]);
    server.setDown(false);
    const { verifier, advance, errors } = verifierAt(Date.now());
    const valid = await token('key-a', keyA.privateKey);
    await verifier.verify(valid);
    server.setDown(true);
    const before = server.requests;
    advance(MAX_AGE + 1);
    assert.equal((await verifier.verify(valid)).principal.sub, 'u');
    // The background refresh was tried (and failed), yet the cached keys kept serving.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(server.requests, before + 1);
    assert.ok(errors.length >= 1);
    assert.equal((await verifier.verify(valid)).principal.sub, 'u');
    server.setDown(false);
  });

  test('answers 503 when an IdP was never reachable, fetching at most once per cool-down', async () => {
    server.setDown(true);
    const { verifier } = verifierAt(Date.now());
    const before = server.requests;
    for (let i = 0; i < 5; i += 1) {
      const err = await rejectionOf(verifier.verify(await token('key-a', keyA.privateKey)));
      assert.equal(err.code, 'unavailable');
    }
    assert.equal(server.requests, before + 1);
    server.setDown(false);
  });

  test('a flood of random kids fetches no more often than the cool-down allows', async () => {
    server.setKeys([keyA.publicJwk]);
    const { verifier, advance } = verifierAt(Date.now());
    const before = server.requests;
    const forged = await Promise.all(
      Array.from({ length: 40 }, () => token(randomUUID(), keyB.privateKey)),
    );
    // Within the first fetch's cool-down each new kid awaits the next refresh (503, not held against the caller).
    for (const t of forged.slice(0, 20))
      assert.equal((await rejectionOf(verifier.verify(t))).code, 'unavailable');
    // One fetch for the initial load; the unknown kids fall inside its cool-down.
    assert.equal(server.requests, before + 1);
    advance(COOLDOWN);
    await Promise.all(
      forged
        .slice(20)
        .map(async (t) =>
          assert.equal((await rejectionOf(verifier.verify(t))).code, 'unauthorized'),
        ),
    );
    // One more fetch once the cool-down passed, shared by the concurrent burst; the kids it did not find are forged.
    assert.equal(server.requests, before + 2);
    assert.equal((await rejectionOf(verifier.verify(forged[0] as string))).code, 'unauthorized');
    assert.equal(server.requests, before + 2);
  });
});
