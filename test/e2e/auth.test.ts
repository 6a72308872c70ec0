/** The bearer-token attack matrix through a real gateway pair on one Redis, key rotation by CLI, and the OAuth client-credentials flow. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import {
  decodeProtectedHeader,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { rsaKey, startJwksServer, type JwksServer } from '../security/fixtures.js';

const run = promisify(execFile);
const IDP = 'https://idp.test/';
const SCOPES = 'orders:read orders:write';
/** SPEC: a bad token's challenge is exactly this, with no error_description. */
const INVALID = 'Bearer error="invalid_token"';

/** Runs `edgeway ...` as a child process and returns its stdout. */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/edgeway.js', ...args], {
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return stdout;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('bearer authentication through the gateway', () => {
  let redis: TestRedis;
  let upstream: Upstream;
  let jwks: JwksServer;
  let idp: { privateKey: CryptoKey; publicKey: CryptoKey; publicJwk: JWK };
  let attacker: { privateKey: CryptoKey; publicKey: CryptoKey; publicJwk: JWK };
  let first: TestGateway;
  let second: TestGateway;
  let nextIp = 1;

  /** An IdP token; `claims` and `header` override the defaults (exp in 5 min, all scopes). */
  const idpToken = (
    claims: JWTPayload = {},
    header: Record<string, unknown> = {},
    key: CryptoKey = idp.privateKey,
  ): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: IDP,
      aud: 'api',
      sub: 'alice',
      scope: SCOPES,
      iat: now,
      exp: now + 300,
      jti: randomBytes(8).toString('hex'),
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1', ...header })
      .sign(key);
  };

  /** GET /orders/1 on `gw`; every call comes from a new client address (trusted X-Forwarded-For) so the invalid-token throttle never answers instead. */
  const call = async (
    token: string | undefined,
    gw: TestGateway = first,
    headers: Record<string, string> = {},
  ) => {
    const res = await request(`${gw.url}/orders/1`, {
      headers: {
        'x-forwarded-for': `10.1.0.${nextIp++}`,
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...headers,
      },
    });
    const text = await res.body.text();
    return { status: res.statusCode, challenge: res.headers['www-authenticate'], text };
  };

  /** Asserts the refusal, that the upstream saw nothing, and that a valid token still passes afterwards. */
  const refused = async (
    token: string | undefined,
    status: number,
    challenge: string,
    description?: string,
  ) => {
    const before = upstream.seen.length;
    const res = await call(token);
    assert.equal(res.status, status, res.text);
    assert.equal(res.challenge, challenge);
    const { error } = JSON.parse(res.text);
    assert.equal(error.code, status === 401 ? 'unauthorized' : 'forbidden');
    if (description !== undefined) assert.equal(error.message, `invalid token: ${description}`);
    assert.equal(upstream.seen.length, before, 'the upstream saw the refused request');
    const ok = await call(await idpToken());
    assert.equal(ok.status, 200, `a valid token after the hostile one: ${ok.text}`);
  };

  before(async () => {
    redis = await startRedis();
    upstream = await startUpstream();
    idp = await rsaKey('idp-1');
    attacker = await rsaKey('idp-1');
    jwks = await startJwksServer([idp.publicJwk]);
    const config = `gateway:
  trustedProxies: [127.0.0.1]
auth:
  issuers:
    - { issuer: "${IDP}", audience: api, jwksUri: "${jwks.url}" }
    - { issuer: edgeway, audience: api }
  algorithms: [RS256, ES256]
  clockSkew: 30s
${serviceYaml('svc', [upstream.url])}routes:
  - { name: orders, match: { path: /orders }, service: svc, auth: { required: true, scopes: [orders:read, orders:write], claimHeaders: { x-edgeway-tenant: tenant } } }
`;
    first = await startGateway({ 'c.yaml': config }, { redisUrl: redis.url });
    second = await startGateway({ 'c.yaml': config }, { redisUrl: redis.url });
  });

  after(async () => {
    await first?.stop();
    await second?.stop();
    await jwks?.close();
    await upstream?.close();
    await redis?.stop();
  });

  test('no token: 401 with a bare realm challenge (RFC 6750 3.1)', async () => {
    await refused(undefined, 401, 'Bearer realm="edgeway"');
  });

  test('malformed token', async () => {
    await refused('not-a.jwt', 401, INVALID, 'malformed token');
  });

  test('alg none is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: IDP, aud: 'api', sub: 'alice', scope: SCOPES, exp: now + 300 })}.`;
    await refused(token, 401, INVALID, 'algorithm not allowed');
  });

  test('HS256 signed with the RSA public key as HMAC secret is refused', async () => {
    const pem = new TextEncoder().encode(await exportSPKI(idp.publicKey));
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: IDP,
      aud: 'api',
      sub: 'alice',
      scope: SCOPES,
      exp: now + 300,
    })
      .setProtectedHeader({ alg: 'HS256', kid: 'idp-1' })
      .sign(pem);
    await refused(token, 401, INVALID, 'algorithm not allowed');
  });

  test('a tampered payload fails the signature check', async () => {
    const [header, payload, signature] = (await idpToken({ scope: 'orders:read' })).split('.') as [
      string,
      string,
      string,
    ];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as JWTPayload;
    await refused(
      `${header}.${b64({ ...claims, scope: SCOPES, sub: 'admin' })}.${signature}`,
      401,
      INVALID,
      'signature verification failed',
    );
  });

  test('expired beyond the clock skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(
      await idpToken({ iat: now - 600, exp: now - 120 }),
      401,
      INVALID,
      'token expired',
    );
  });

  test('not yet valid beyond the clock skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(await idpToken({ nbf: now + 120 }), 401, INVALID, 'token not yet valid');
  });

  test('expired and not-yet-valid within the 30 s skew still pass', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await call(await idpToken({ iat: now - 600, exp: now - 10 }))).status, 200);
    assert.equal((await call(await idpToken({ nbf: now + 10 }))).status, 200);
  });

  test('wrong issuer, even signed with the right key', async () => {
    await refused(await idpToken({ iss: 'https://evil.test/' }), 401, INVALID, 'unknown issuer');
    await refused(await idpToken({ iss: 'edgeway', aud: 'api' }), 401, INVALID);
  });

  test('wrong audience', async () => {
    await refused(await idpToken({ aud: 'other-api' }), 401, INVALID, 'wrong audience');
  });

  test('unknown kid: 503 with Retry-After while the key set is in its refetch cool-down (the IdP may just have rotated), never the upstream', async () => {
    const before = upstream.seen.length;
    const res = await request(`${first.url}/orders/1`, {
      headers: {
        'x-forwarded-for': `10.1.0.${nextIp++}`,
        authorization: `Bearer ${await idpToken({}, { kid: 'no-such-key' }, attacker.privateKey)}`,
      },
    });
    const { error } = (await res.body.json()) as { error: { code: string } };
    assert.equal(res.statusCode, 503);
    assert.equal(error.code, 'unavailable');
    assert.ok(
      Number(res.headers['retry-after']) >= 1 && Number(res.headers['retry-after']) <= 30,
      `retry-after ${String(res.headers['retry-after'])}`,
    );
    assert.equal(upstream.seen.length, before);
  });

  test('a key embedded in the header (jwk) is never trusted', async () => {
    const { kid: _kid, ...jwk } = attacker.publicJwk;
    await refused(
      await idpToken({}, { jwk }, attacker.privateKey),
      401,
      INVALID,
      'the jwk header is not accepted',
    );
  });

  test('jku and x5u key URLs are never followed', async () => {
    const before = jwks.requests;
    await refused(
      await idpToken({}, { jku: `${jwks.url}?evil` }, attacker.privateKey),
      401,
      INVALID,
      'the jku header is not accepted',
    );
    await refused(
      await idpToken({}, { x5u: 'http://127.0.0.1:1/cert.pem' }, attacker.privateKey),
      401,
      INVALID,
      'the x5u header is not accepted',
    );
    assert.equal(jwks.requests, before, 'a refused header made the gateway fetch keys');
  });

  test('an algorithm outside the allowlist', async () => {
    const { privateKey } = await generateKeyPair('PS256');
    await refused(
      await idpToken({}, { alg: 'PS256' }, privateKey),
      401,
      INVALID,
      'algorithm not allowed',
    );
  });

  test('revoked through the admin API of a second gateway: the first refuses within 1 s', async () => {
    const minted = await request(`${second.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'bob', scopes: SCOPES.split(' '), ttl: '10m' }),
    });
    assert.equal(minted.statusCode, 200);
    const { token, jti } = (await minted.body.json()) as { token: string; jti: string };
    assert.equal(
      (await call(token)).status,
      200,
      'the token works (and is cached) before revocation',
    );
    const revoked = await request(`${second.adminUrl}/admin/tokens/${jti}/revoke`, {
      method: 'POST',
    });
    assert.equal(revoked.statusCode, 200);
    await revoked.body.dump();
    const started = Date.now();
    let last = await call(token);
    while (last.status === 200 && Date.now() - started < 1000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      last = await call(token);
    }
    assert.equal(last.status, 401, 'still accepted 1 s after revocation on another gateway');
    await refused(token, 401, INVALID, 'token revoked');
  });

  test('missing scope: 403 insufficient_scope naming the required scopes', async () => {
    await refused(
      await idpToken({ scope: 'orders:read' }),
      403,
      'Bearer error="insufficient_scope", scope="orders:read orders:write"',
    );
  });

  test('all scopes: the upstream receives the caller, and client-sent x-edgeway-* copies are dropped', async () => {
    const before = upstream.seen.length;
    const res = await call(await idpToken({ sub: 'carol', scope: `${SCOPES} extra` }), first, {
      'x-edgeway-sub': 'root',
      'x-edgeway-scopes': 'admin',
      'x-edgeway-other': 'x',
    });
    assert.equal(res.status, 200);
    assert.equal(upstream.seen.length, before + 1);
    const seen = upstream.seen.at(-1)?.rawHeaders ?? [];
    const values = (name: string) =>
      seen.filter((_, i) => i % 2 === 1 && seen[i - 1]?.toLowerCase() === name);
    assert.deepEqual(values('x-edgeway-sub'), ['carol']);
    assert.deepEqual(values('x-edgeway-scopes'), [`${SCOPES} extra`]);
    assert.deepEqual(values('x-edgeway-other'), []);
  });

  test('claimHeaders send a claim upstream, percent-encoded (CR/LF included) and bounded, and a client copy never passes', async () => {
    const res = await call(await idpToken({ tenant: 'acme\r\nx-injected: 1' }), first, {
      'x-edgeway-tenant': 'evil',
    });
    assert.equal(res.status, 200);
    const seen = upstream.seen.at(-1)?.rawHeaders ?? [];
    const values = (name: string) =>
      seen.filter((_, i) => i % 2 === 1 && seen[i - 1]?.toLowerCase() === name);
    assert.deepEqual(values('x-edgeway-tenant'), ['acme%0D%0Ax-injected:%201']);
    assert.deepEqual(values('x-injected'), []);
    await call(await idpToken({ tenant: 't'.repeat(1000) }));
    const long = (upstream.seen.at(-1)?.headers['x-edgeway-tenant'] as string | undefined) ?? '';
    assert.equal(long.length, 256);
  });

  test('keys rotate (CLI): tokens signed before and after both verify on the running gateways', async () => {
    const mint = async (gw: TestGateway) => {
      const res = await request(`${gw.adminUrl}/admin/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub: 'dave', scopes: SCOPES.split(' '), ttl: '10m' }),
      });
      return ((await res.body.json()) as { token: string }).token;
    };
    const old = await mint(first);
    await cli(['keys', 'rotate', '--redis', redis.url, '--config', first.configDir]);
    const fresh = await cli([
      'token',
      'issue',
      '--sub',
      'erin',
      '--scope',
      SCOPES,
      '--ttl',
      '5m',
      '--redis',
      redis.url,
      '--config',
      first.configDir,
    ]);
    assert.notEqual(decodeProtectedHeader(fresh.trim()).kid, decodeProtectedHeader(old).kid);
    for (const gw of [first, second]) {
      assert.equal((await call(old, gw)).status, 200, 'a token of the replaced key');
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await call(fresh.trim(), gw)).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(status, 200, 'a token of the new key');
      const set = (await (await request(`${gw.url}/.well-known/jwks.json`)).body.json()) as {
        keys: JWK[];
      };
      // Retiring (the replaced key), current (the key published as next before the rotation) and the new next.
      assert.equal(set.keys.length, 3);
      assert.ok(set.keys.some((k) => k.kid === decodeProtectedHeader(fresh.trim()).kid));
      assert.ok(
        set.keys.every((k) => k.d === undefined),
        'the JWKS leaks a private key',
      );
    }
  });

  test('OAuth client credentials: clients add (CLI), POST /oauth/token with Basic auth, token used on a route', async () => {
    const out = await cli([
      'clients',
      'add',
      '--id',
      'billing',
      '--scope',
      SCOPES,
      '--json',
      '--redis',
      redis.url,
      '--config',
      first.configDir,
    ]);
    const { secret } = JSON.parse(out) as { secret: string };
    const exchange = (password: string) =>
      request(`${first.url}/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`billing:${password}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': '10.2.0.1',
        },
        body: 'grant_type=client_credentials',
      });
    const granted = await exchange(secret);
    assert.equal(granted.statusCode, 200);
    assert.equal(granted.headers['cache-control'], 'no-store');
    const body = (await granted.body.json()) as {
      access_token: string;
      token_type: string;
      expires_in: number;
      scope: string;
    };
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, SCOPES);
    assert.ok(body.expires_in > 0);
    const before = upstream.seen.length;
    assert.equal(
      (await call(body.access_token, second)).status,
      200,
      'the token verifies on the other gateway too',
    );
    assert.equal(upstream.seen.at(-1)?.headers['x-edgeway-sub'], 'billing');
    assert.equal(upstream.seen.length, before + 1);

    const wrong = await exchange(`${secret}x`);
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.headers['content-type'], 'application/json');
    assert.equal(wrong.headers['cache-control'], 'no-store');
    assert.equal(wrong.headers['www-authenticate'], 'Basic realm="edgeway"');
    const error = (await wrong.body.json()) as Record<string, unknown>;
    assert.equal(error.error, 'invalid_client');
    assert.equal(typeof error.error_description, 'string');
    assert.equal(upstream.seen.length, before + 1);
    assert.equal((await call(await idpToken())).status, 200);
  });

  test('POST /oauth/token and /.well-known/* get an access-log line and a request count like proxied requests, never the secret', async () => {
    const secret = `guess-${randomBytes(8).toString('hex')}`;
    const linesBefore = first.accessLines.length;
    const attempt = await request(`${first.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': '10.3.0.1',
      },
      body: `grant_type=client_credentials&client_id=nobody&client_secret=${secret}`,
    });
    assert.equal(attempt.statusCode, 401);
    await attempt.body.dump();
    await (await request(`${first.url}/.well-known/jwks.json`)).body.dump();
    await (await request(`${first.url}/.well-known/oauth-authorization-server`)).body.dump();
    const lines = first.accessLines
      .slice(linesBefore)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const pick = (route: string) => lines.find((line) => line.route === route);
    assert.equal(pick('(oauth-token)')?.status, 401, JSON.stringify(lines));
    assert.equal(pick('(oauth-token)')?.clientIp, '10.3.0.1');
    assert.equal(pick('(oauth-token)')?.requestId, attempt.headers['x-request-id']);
    assert.equal(pick('(jwks)')?.status, 200);
    assert.equal(pick('(oauth-metadata)')?.status, 200);
    assert.ok(
      !first.accessLines.some((line) => line.includes(secret)),
      'the access log holds the client secret',
    );
    const metrics = await (await request(`${first.adminUrl}/metrics`)).body.text();
    assert.match(
      metrics,
      /edgeway_requests_total\{route="\(oauth-token\)",method="POST",status="401",status_class="4xx"\} [1-9]/,
    );
    assert.match(
      metrics,
      /edgeway_requests_total\{route="\(jwks\)",method="GET",status="200",status_class="2xx"\} [1-9]/,
    );
  });

  test('RFC 8414 metadata at /.well-known/oauth-authorization-server names the token endpoint and keys under the public origin', async () => {
    const res = await request(`${first.url}/.well-known/oauth-authorization-server`, {
      headers: { host: 'API.example.test', 'x-forwarded-proto': 'https' },
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(await res.body.json(), {
      issuer: 'https://api.example.test',
      token_endpoint: 'https://api.example.test/oauth/token',
      jwks_uri: 'https://api.example.test/.well-known/jwks.json',
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
    });
    const bad = await request(`${first.url}/.well-known/oauth-authorization-server`, {
      headers: { host: 'evil"host' },
    });
    assert.equal(bad.statusCode, 400);
    await bad.body.dump();
  });
});

describe('an auth config reload', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  const config = (audience: string) =>
    `auth:\n  issuers:\n    - { issuer: edgeway, audience: ${audience} }\n${serviceYaml('svc', [upstream.url])}routes:\n  - { name: orders, match: { path: /orders }, service: svc, auth: { scopes: [orders:read] } }\n`;
  const mint = async (): Promise<string> => {
    const res = await request(`${gw.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'frank', scopes: ['orders:read'], ttl: '10m' }),
    });
    return ((await res.body.json()) as { token: string }).token;
  };
  const status = async (token: string): Promise<number> => {
    const res = await request(`${gw.url}/orders/1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await res.body.dump();
    return res.statusCode;
  };

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({ 'c.yaml': config('api') });
  });

  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  test('the new snapshot checks tokens against the new issuers and audiences, even ones verified before', async () => {
    const before = await mint();
    assert.equal(await status(before), 200);
    gw.write('c.yaml', config('other-api'));
    assert.deepEqual(await gw.gateway.reload(), { ok: true });
    assert.equal(
      await status(before),
      401,
      'a token for the old audience passed the reloaded config',
    );
    assert.equal(await status(await mint()), 200, 'a token for the new audience');
  });
});
