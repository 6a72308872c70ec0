/**
 * The node:crypto verifier against real keys of every algorithm family: tokens signed by jose with the
 * issuer's key pass, and forged, altered, alg-swapped, expired and malformed ones fail with their reason.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CompactSign,
  SignJWT,
  base64url,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';
import { configSchema } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { createSecurity, type Security } from '../../src/security/index.js';
import { TokenVerifier } from '../../src/security/verify.js';
import { startJwksServer, tempDir, type JwksServer } from './fixtures.js';

const IDP = 'https://idp.example.test/';
const IDP_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;
type IdpAlgorithm = (typeof IDP_ALGORITHMS)[number];

interface IdpKey {
  readonly kid: string;
  readonly alg: IdpAlgorithm;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

const idpKeys = new Map<IdpAlgorithm, IdpKey>();
let jwks: JwksServer;
let dir: Awaited<ReturnType<typeof tempDir>>;
let edDir: Awaited<ReturnType<typeof tempDir>>;
/** IdP issuer plus edgeway's own issuer on an ES256 key ring. */
let security: Security;
/** edgeway's own issuer on an EdDSA key ring. */
let edSecurity: Security;

const nowSec = (): number => Math.floor(Date.now() / 1000);

function authConfig(jwksUri: string) {
  return configSchema.parse({
    auth: {
      issuers: [
        { issuer: IDP, audience: 'api', jwksUri },
        { issuer: 'edgeway', audience: 'api' },
      ],
      algorithms: [...IDP_ALGORITHMS],
      clockSkew: '30s',
    },
  }).auth;
}

before(async () => {
  const jwkList: JWK[] = [];
  for (const alg of IDP_ALGORITHMS) {
    const pair = await generateKeyPair(alg, { extractable: true });
    const kid = `idp-${alg}`;
    idpKeys.set(alg, { kid, alg, ...pair });
    jwkList.push({ ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' });
  }
  jwks = await startJwksServer(jwkList);
  dir = await tempDir();
  edDir = await tempDir();
  const options = { invalidTokensPerMinute: 10_000, remoteJwks: { cooldown: 0 } };
  security = await createSecurity(
    { kind: 'memory', dataDir: dir.path },
    authConfig(jwks.url),
    options,
  );
  edSecurity = await createSecurity({ kind: 'memory', dataDir: edDir.path }, authConfig(jwks.url), {
    ...options,
    signingAlgorithm: 'EdDSA',
  });
});

after(async () => {
  await security.close();
  await edSecurity.close();
  await jwks.close();
  await dir.remove();
  await edDir.remove();
});

function idpKey(alg: IdpAlgorithm): IdpKey {
  const key = idpKeys.get(alg);
  if (key === undefined) throw new Error(`no ${alg} key`);
  return key;
}

/** A valid IdP token signed by jose with the `alg` key; `claims` and `header` override the defaults. */
function idpToken(
  alg: IdpAlgorithm,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  key: CryptoKey = idpKey(alg).privateKey,
): Promise<string> {
  return new SignJWT({ iss: IDP, aud: 'api', sub: 'user-1', exp: nowSec() + 300, ...claims })
    .setProtectedHeader({ alg, kid: idpKey(alg).kid, ...header })
    .sign(key);
}

/** A token signed by jose over raw payload bytes, for claims SignJWT refuses to produce. */
function rawIdpToken(alg: IdpAlgorithm, payload: string): Promise<string> {
  const key = idpKey(alg);
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg, kid: key.kid })
    .sign(key.privateKey);
}

/** edgeway's current private key of a ring, read from its data dir. */
async function ownKey(dataDir: string): Promise<{ kid: string; alg: string; key: CryptoKey }> {
  const { keys } = JSON.parse(await readFile(join(dataDir, 'keys.json'), 'utf8')) as {
    keys: Array<{ kid: string; alg: string; state: string; privateJwk: JWK }>;
  };
  const record = keys.find((k) => k.state === 'current');
  if (record === undefined) throw new Error('no current key');
  return {
    kid: record.kid,
    alg: record.alg,
    key: (await importJWK(record.privateJwk, record.alg)) as CryptoKey,
  };
}

/** The reason `token` is refused with, or undefined when it is accepted. */
async function reason(token: string, on: Security = security): Promise<string | undefined> {
  try {
    await on.authenticate(`Bearer ${token}`, '192.0.2.1');
    return undefined;
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.status, 401);
    return err.message.replace(/^invalid token: /, '');
  }
}

/** The token with one bit of its signature's first byte flipped. */
function flipSignatureBit(token: string): string {
  const [head, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0] = (bytes[0] as number) ^ 1;
  return `${head}.${payload}.${bytes.toString('base64url')}`;
}

/** The token with its payload replaced and the original signature kept. */
function replacePayload(token: string, claims: Record<string, unknown>): string {
  const [head, , signature] = token.split('.') as [string, string, string];
  return `${head}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
}

for (const alg of IDP_ALGORITHMS) {
  describe(`an IdP ${alg} token`, () => {
    test('signed with the published key is accepted, claims intact', async () => {
      const principal = await security.authenticate(
        `Bearer ${await idpToken(alg, { scope: 'a b', jti: `ok-${alg}` })}`,
        '192.0.2.1',
      );
      assert.equal(principal.sub, 'user-1');
      assert.deepEqual(principal.scopes, ['a', 'b']);
      assert.equal(principal.claims['jti'], `ok-${alg}`);
      assert.ok(Object.isFrozen(principal.claims));
    });

    test('with a payload altered after signing is refused', async () => {
      const token = await idpToken(alg);
      const forged = replacePayload(token, {
        iss: IDP,
        aud: 'api',
        sub: 'admin',
        exp: nowSec() + 300,
      });
      assert.equal(await reason(forged), 'signature verification failed');
    });

    test('with one signature bit flipped is refused', async () => {
      assert.equal(
        await reason(flipSignatureBit(await idpToken(alg))),
        'signature verification failed',
      );
    });

    test("forged with another key of the same type under the issuer's kid is refused", async () => {
      const { privateKey } = await generateKeyPair(alg);
      assert.equal(
        await reason(await idpToken(alg, {}, {}, privateKey)),
        'signature verification failed',
      );
    });

    test('expired beyond the clock skew is refused; within it, accepted', async () => {
      assert.equal(await reason(await idpToken(alg, { exp: nowSec() - 31 })), 'token expired');
      assert.equal(await reason(await idpToken(alg, { exp: nowSec() - 20 })), undefined);
    });
  });
}

describe('algorithm confusion is refused', () => {
  test('HS256 keyed with the IdP public key, for every key type', async () => {
    for (const alg of IDP_ALGORITHMS) {
      const pem = await exportSPKI(idpKey(alg).publicKey);
      const token = await new SignJWT({ iss: IDP, aud: 'api', sub: 'x', exp: nowSec() + 300 })
        .setProtectedHeader({ alg: 'HS256', kid: idpKey(alg).kid })
        .sign(new TextEncoder().encode(pem));
      assert.equal(await reason(token), 'algorithm not allowed');
    }
  });

  test('alg none with an empty signature', async () => {
    const head = base64url.encode(JSON.stringify({ alg: 'none', kid: idpKey('ES256').kid }));
    const body = base64url.encode(
      JSON.stringify({ iss: IDP, aud: 'api', sub: 'x', exp: nowSec() + 300 }),
    );
    assert.equal(await reason(`${head}.${body}.`), 'algorithm not allowed');
  });

  test("an IdP token naming another algorithm's kid finds no key", async () => {
    // Signed with the attacker's RSA key, naming the ES256 key: the JWKS has no RS256 key under that kid.
    const { privateKey } = await generateKeyPair('RS256');
    const token = await idpToken('RS256', {}, { kid: idpKey('ES256').kid }, privateKey);
    assert.equal(await reason(token), 'no key matches the token');
  });

  test("edgeway's ES256 key does not verify an EdDSA or ES384 token naming its kid", async () => {
    const { kid } = await ownKey(dir.path);
    for (const alg of ['EdDSA', 'ES384'] as const) {
      const { privateKey } = await generateKeyPair(alg);
      const token = await new SignJWT({ iss: 'edgeway', aud: 'api', sub: 's', exp: nowSec() + 60 })
        .setProtectedHeader({ alg, kid })
        .sign(privateKey);
      assert.equal(await reason(token), 'the key does not fit the algorithm', alg);
    }
  });

  test("edgeway's EdDSA key does not verify an ES256 token naming its kid", async () => {
    const { kid } = await ownKey(edDir.path);
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ iss: 'edgeway', aud: 'api', sub: 's', exp: nowSec() + 60 })
      .setProtectedHeader({ alg: 'ES256', kid })
      .sign(privateKey);
    assert.equal(await reason(token, edSecurity), 'the key does not fit the algorithm');
  });

  test('an RSA key under 2048 bits is refused for RS256', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weak = { ...publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256' } as JWK;
    const server = await startJwksServer([weak]);
    const weakDir = await tempDir();
    const weakSecurity = await createSecurity(
      { kind: 'memory', dataDir: weakDir.path },
      configSchema.parse({
        auth: { issuers: [{ issuer: IDP, audience: 'api', jwksUri: server.url }] },
      }).auth,
      { invalidTokensPerMinute: 10_000 },
    );
    try {
      const head = base64url.encode(JSON.stringify({ alg: 'RS256', kid: 'weak' }));
      const body = base64url.encode(
        JSON.stringify({ iss: IDP, aud: 'api', sub: 'x', exp: nowSec() + 300 }),
      );
      const signature = nodeSign('sha256', Buffer.from(`${head}.${body}`), privateKey);
      const token = `${head}.${body}.${signature.toString('base64url')}`;
      assert.equal(await reason(token, weakSecurity), 'the key does not fit the algorithm');
    } finally {
      await weakSecurity.close();
      await server.close();
      await weakDir.remove();
    }
  });

  test('an ES256 signature in DER form instead of R || S is refused', async () => {
    const token = await idpToken('ES256');
    const [head, body] = token.split('.') as [string, string];
    const der = nodeSign('sha256', Buffer.from(`${head}.${body}`), {
      key: await exportPKCS8(idpKey('ES256').privateKey),
      dsaEncoding: 'der',
    });
    assert.equal(
      await reason(`${head}.${body}.${der.toString('base64url')}`),
      'signature verification failed',
    );
  });
});

describe("edgeway's own tokens", () => {
  test('ES256 and EdDSA rings verify what they issued and refuse it altered', async () => {
    for (const on of [security, edSecurity]) {
      const issued = await on.issueToken({ sub: 'svc', scopes: ['x'], ttlMs: 60_000 });
      assert.equal((await on.authenticate(`Bearer ${issued.token}`, '192.0.2.1')).sub, 'svc');
      assert.equal(
        await reason(flipSignatureBit(issued.token), on),
        'signature verification failed',
      );
    }
  });

  test('an expired one is refused', async () => {
    const { kid, alg, key } = await ownKey(dir.path);
    const token = await new SignJWT({ iss: 'edgeway', aud: 'api', sub: 's', exp: nowSec() - 60 })
      .setProtectedHeader({ alg, kid })
      .sign(key);
    assert.equal(await reason(token), 'token expired');
  });
});

describe('claims are checked after the signature', () => {
  test('nbf beyond the skew is not yet valid; a non-number nbf, exp or iat is invalid', async () => {
    assert.equal(
      await reason(await idpToken('ES256', { nbf: nowSec() + 60 })),
      'token not yet valid',
    );
    assert.equal(await reason(await idpToken('ES256', { nbf: 'soon' })), 'invalid nbf claim');
    assert.equal(await reason(await idpToken('ES256', { exp: 'later' })), 'invalid exp claim');
    assert.equal(await reason(await idpToken('ES256', { iat: 'now' })), 'invalid iat claim');
  });

  test('an exp of 1e400 (Infinity once parsed) is no date', async () => {
    const token = await rawIdpToken('ES256', `{"iss":"${IDP}","aud":"api","sub":"x","exp":1e400}`);
    assert.equal(await reason(token), 'invalid exp claim');
  });

  test('aud, sub and exp are required; aud must name the configured audience', async () => {
    const base = { iss: IDP, aud: 'api', sub: 'x', exp: nowSec() + 300 };
    const without = (name: keyof typeof base) =>
      rawIdpToken(
        'ES256',
        JSON.stringify(Object.fromEntries(Object.entries(base).filter(([k]) => k !== name))),
      );
    assert.equal(await reason(await without('aud')), 'wrong audience');
    assert.equal(await reason(await without('sub')), 'missing sub claim');
    assert.equal(await reason(await without('exp')), 'missing exp claim');
    assert.equal(await reason(await idpToken('ES256', { aud: ['other', 'api'] })), undefined);
    assert.equal(await reason(await idpToken('ES256', { aud: ['other'] })), 'wrong audience');
  });
});

describe('the header and the shape are checked before any key is looked up', () => {
  test('a crit header is refused, even one the signer understood', async () => {
    const key = idpKey('ES256');
    const token = await new CompactSign(
      new TextEncoder().encode(
        JSON.stringify({ iss: IDP, aud: 'api', sub: 'x', exp: nowSec() + 300 }),
      ),
    )
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, crit: ['urn:example'], 'urn:example': 1 })
      .sign(key.privateKey, { crit: { 'urn:example': true } });
    assert.equal(await reason(token), 'the crit header is not accepted');
  });

  test('a payload that is not a JSON object, not UTF-8, or padded base64url is malformed', async () => {
    assert.equal(await reason(await rawIdpToken('ES256', '[1,2]')), 'malformed token');
    assert.equal(await reason(await rawIdpToken('ES256', '"sub"')), 'malformed token');
    const key = idpKey('ES256');
    const latin1 = await new CompactSign(
      Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    )
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .sign(key.privateKey);
    assert.equal(await reason(latin1), 'malformed token');
    const [head, body, signature] = (await idpToken('ES256')).split('.') as [
      string,
      string,
      string,
    ];
    assert.equal(await reason(`${head}.${body}.${signature}=`), 'malformed token');
    assert.equal(await reason(`${head}.${body}.${signature}.x`), 'malformed token');
  });

  test('a token over 8 KiB handed to the verifier directly is malformed', async () => {
    const { auth } = configSchema.parse({
      auth: { issuers: [{ issuer: IDP, audience: 'api', jwksUri: jwks.url }] },
    });
    const verifier = new TokenVerifier(auth);
    const token = await idpToken('ES256', { pad: 'x'.repeat(9000) });
    await assert.rejects(
      verifier.verify(token),
      (err: unknown) =>
        err instanceof GatewayError && err.message === 'invalid token: malformed token',
    );
  });
});
