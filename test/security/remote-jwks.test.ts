/** Remote JWKS against a real HTTP server: rotation, IdP outages and floods of unknown kids. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
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
function verifierAt(
  start: number,
  jwksUri = server.url,
  timeout = 2000,
): {
  verifier: TokenVerifier;
  advance: (ms: number) => void;
  errors: unknown[];
} {
  let now = start;
  const errors: unknown[] = [];
  const { auth } = configSchema.parse({
    auth: { issuers: [{ issuer: IDP, audience: 'api', jwksUri }] },
  });
  const verifier = new TokenVerifier(auth, {
    now: () => now,
    remote: {
      cooldown: COOLDOWN,
      maxAge: MAX_AGE,
      timeout,
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

/** A JWKS endpoint on 127.0.0.1 that misbehaves as `handle` says; counts the requests it got. */
async function hostileJwks(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const hostile = createServer((req, res) => {
    requests += 1;
    handle(req, res);
  });
  hostile.listen(0, '127.0.0.1');
  await once(hostile, 'listening');
  const address = hostile.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/.well-known/jwks.json`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        hostile.closeAllConnections();
        hostile.close(() => resolve());
      }),
  };
}

/** The verdict on `token`, or 'hung' when there is none after `ms` (the fetch was never bounded). */
async function verdictWithin(verifier: TokenVerifier, token: string, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('hung'), ms);
  });
  const verdict = verifier.verify(token).then(
    (verified) => verified.principal.sub,
    (err: unknown) => (err instanceof GatewayError ? err.code : String(err)),
  );
  try {
    return await Promise.race([verdict, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A key set of `keys` padded past the 512 KiB limit with keys no token names. */
function oversizedSet(keys: object[]): string {
  const pad = { kty: 'oct', kid: 'pad', k: 'A'.repeat(600 * 1024) };
  return JSON.stringify({ keys: [...keys, pad] });
}

describe('a hostile JWKS endpoint never supplies keys', () => {
  test('a redirect is not followed: the key set it points at is never fetched, tokens are 503', async () => {
    const forger = await rsaKey('key-a');
    const elsewhere = await hostileJwks((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: [forger.publicJwk] }));
    });
    const redirecting = await hostileJwks((_req, res) => {
      res.writeHead(302, { location: elsewhere.url }).end();
    });
    try {
      const { verifier } = verifierAt(Date.now(), redirecting.url);
      const forged = await token('key-a', forger.privateKey);
      assert.equal(await verdictWithin(verifier, forged, 5000), 'unavailable');
      assert.equal(redirecting.requests(), 1);
      assert.equal(elsewhere.requests(), 0, 'the redirect target was fetched');
    } finally {
      await redirecting.close();
      await elsewhere.close();
    }
  });

  test('an answer other than 200 is not a key set, even with one in its body', async () => {
    const notFound = await hostileJwks((_req, res) => {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: [keyA.publicJwk] }));
    });
    try {
      const { verifier } = verifierAt(Date.now(), notFound.url);
      assert.equal(
        await verdictWithin(verifier, await token('key-a', keyA.privateKey), 5000),
        'unavailable',
      );
      assert.equal(notFound.requests(), 1);
    } finally {
      await notFound.close();
    }
  });

  test('a key set over 512 KiB is refused, whether its length is declared or streamed chunked', async () => {
    const body = oversizedSet([keyA.publicJwk]);
    for (const declared of [true, false]) {
      const large = await hostileJwks((_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          ...(declared ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
        });
        res.end(body);
      });
      try {
        const { verifier } = verifierAt(Date.now(), large.url);
        assert.equal(
          await verdictWithin(verifier, await token('key-a', keyA.privateKey), 5000),
          'unavailable',
          declared ? 'with content-length' : 'chunked',
        );
      } finally {
        await large.close();
      }
    }
  });

  test('the 512 KiB bound counts bytes: 300 Ki two-byte characters (600 KiB) are refused', async () => {
    const pad = { kty: 'oct', kid: 'pad', k: 'AAAA', note: '\u00e9'.repeat(300 * 1024) };
    const body = JSON.stringify({ keys: [keyA.publicJwk, pad] });
    assert.ok(body.length < 512 * 1024 && Buffer.byteLength(body) > 512 * 1024);
    const wide = await hostileJwks((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    try {
      const { verifier } = verifierAt(Date.now(), wide.url);
      assert.equal(
        await verdictWithin(verifier, await token('key-a', keyA.privateKey), 5000),
        'unavailable',
      );
    } finally {
      await wide.close();
    }
  });

  test('a chunked body is refused once past 512 KiB, without waiting for its end', async () => {
    const endless = await hostileJwks((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Never finishes: a gateway that buffered the whole body first would wait for its fetch timeout.
      res.write(`{"keys":[{"kty":"oct","kid":"pad","k":"${'A'.repeat(600 * 1024)}`);
    });
    try {
      const { verifier } = verifierAt(Date.now(), endless.url, 60_000);
      assert.equal(
        await verdictWithin(verifier, await token('key-a', keyA.privateKey), 5000),
        'unavailable',
      );
    } finally {
      await endless.close();
    }
  });

  test('a declared length over 512 KiB is refused at once, without waiting for the body', async () => {
    const stalling = await hostileJwks((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(100 * 1024 * 1024),
      });
      // Never finishes: a gateway that waited for the body would wait for its fetch timeout.
      res.write('{"keys":[');
    });
    try {
      const { verifier } = verifierAt(Date.now(), stalling.url, 60_000);
      assert.equal(
        await verdictWithin(verifier, await token('key-a', keyA.privateKey), 5000),
        'unavailable',
      );
    } finally {
      await stalling.close();
    }
  });

  test('an endpoint that never answers is given up on after the fetch timeout', async () => {
    const silent = await hostileJwks(() => undefined);
    try {
      const { verifier } = verifierAt(Date.now(), silent.url, 300);
      assert.equal(
        await verdictWithin(verifier, await token('key-a', keyA.privateKey), 5000),
        'unavailable',
      );
    } finally {
      await silent.close();
    }
  });
});

describe('unknown kids awaiting a refresh', () => {
  test('are remembered up to 1024; past that, a new unknown kid is invalid at once instead of 503', async () => {
    server.setKeys([keyA.publicJwk]);
    const { verifier } = verifierAt(Date.now());
    assert.equal((await verifier.verify(await token('key-a', keyA.privateKey))).principal.sub, 'u');
    // Within the cool-down: no fetch may look for these kids, so each is remembered and answered 503.
    const template = await token('key-a', keyB.privateKey);
    const [, payload, signature] = template.split('.');
    const codes = new Map<string, number>();
    for (let i = 0; i < 1030; i += 1) {
      const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: `flood-${i}` })).toString(
        'base64url',
      );
      const code = (await rejectionOf(verifier.verify(`${header}.${payload}.${signature}`))).code;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(codes), { unavailable: 1024, unauthorized: 6 });
  });
});
