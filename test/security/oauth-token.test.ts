/** POST /oauth/token logic: the client-credentials grant, RFC 6749 5.2 errors, and failure throttling. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../src/config/schema.js';
import {
  createSecurity,
  type OAuthTokenResponse,
  type Security,
} from '../../src/security/index.js';
import { tempDir } from './fixtures.js';

const FORM = 'application/x-www-form-urlencoded';
let security: Security;
let dir: Awaited<ReturnType<typeof tempDir>>;
let secret: string;

before(async () => {
  dir = await tempDir();
  const { auth } = configSchema.parse({
    auth: { issuers: [{ issuer: 'edgeway', audience: 'api' }] },
  });
  security = await createSecurity({ kind: 'memory', dataDir: dir.path }, auth, {
    oauthTokenTtlMs: 600_000,
  });
  ({ secret } = await security.clients.add('billing', ['orders:read', 'orders:write']));
});

after(async () => {
  await security.close();
  await dir.remove();
});

const basic = (id: string, pass: string): string =>
  `Basic ${Buffer.from(`${id}:${pass}`).toString('base64')}`;

function post(
  body: string,
  authorization?: string,
  contentType = FORM,
  clientIp = '203.0.113.1',
): Promise<OAuthTokenResponse> {
  return security.oauthToken({ contentType, authorization, body, clientIp });
}

function header(response: OAuthTokenResponse, name: string): string | undefined {
  return response.headers.find(([key]) => key === name)?.[1];
}

function assertError(response: OAuthTokenResponse, status: number, error: string): void {
  assert.equal(response.status, status, response.body);
  assert.equal(JSON.parse(response.body).error, error);
  assert.equal(header(response, 'cache-control'), 'no-store');
  assert.equal(header(response, 'content-type'), 'application/json');
}

describe('the client-credentials grant', () => {
  test('trades Basic credentials for a token with the client scopes', async () => {
    const response = await post('grant_type=client_credentials', basic('billing', secret));
    assert.equal(response.status, 200);
    assert.equal(header(response, 'cache-control'), 'no-store');
    const body = JSON.parse(response.body);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 600);
    assert.equal(body.scope, 'orders:read orders:write');
    const principal = await security.authenticate(`Bearer ${body.access_token}`, '203.0.113.1');
    assert.equal(principal.sub, 'billing');
    assert.deepEqual(principal.scopes, ['orders:read', 'orders:write']);
  });

  test('accepts body credentials and narrows to the requested scope', async () => {
    const response = await post(
      `grant_type=client_credentials&scope=orders%3Aread&client_id=billing&client_secret=${secret}`,
    );
    assert.equal(response.status, 200);
    assert.equal(JSON.parse(response.body).scope, 'orders:read');
  });

  const errorCases: Array<[string, () => Promise<OAuthTokenResponse>, number, string]> = [
    [
      'a scope beyond the grant',
      () =>
        post('grant_type=client_credentials&scope=orders:read%20admin', basic('billing', secret)),
      400,
      'invalid_scope',
    ],
    ['no grant_type', () => post('scope=a', basic('billing', secret)), 400, 'invalid_request'],
    [
      'another grant type',
      () => post('grant_type=password&username=a&password=b', basic('billing', secret)),
      400,
      'unsupported_grant_type',
    ],
    [
      'a JSON body',
      () =>
        post('{"grant_type":"client_credentials"}', basic('billing', secret), 'application/json'),
      400,
      'invalid_request',
    ],
    [
      'a repeated parameter',
      () =>
        post(
          'grant_type=client_credentials&grant_type=client_credentials',
          basic('billing', secret),
        ),
      400,
      'invalid_request',
    ],
    [
      'two authentication methods',
      () =>
        post(
          `grant_type=client_credentials&client_id=billing&client_secret=${secret}`,
          basic('billing', secret),
        ),
      400,
      'invalid_request',
    ],
    ['no credentials', () => post('grant_type=client_credentials'), 401, 'invalid_client'],
  ];
  for (const [name, send, status, error] of errorCases) {
    test(`answers ${error} for ${name}`, async () => assertError(await send(), status, error));
  }

  test('answers invalid_client with a Basic challenge for a wrong secret', async () => {
    const response = await post(
      'grant_type=client_credentials',
      basic('billing', 'wrong'),
      FORM,
      '203.0.113.50',
    );
    assertError(response, 401, 'invalid_client');
    assert.equal(header(response, 'www-authenticate'), 'Basic realm="edgeway"');
  });
});

describe('failure throttling', () => {
  // STYLE: a throttle slows attackers, never customers. One IP may be a NAT of many clients, one of them
  // the attacker: a block rations the checks (a 256-bit secret is not guessed at 5 a second), it does not
  // refuse the right secret.
  test('a client id failing too often from one IP gets 429 for its guesses there, but the right secret still passes', async () => {
    const { secret: own } = await security.clients.add('victim', ['a']);
    const attempts: number[] = [];
    for (let i = 0; i < 11; i += 1)
      attempts.push(
        (
          await post(
            'grant_type=client_credentials',
            basic('victim', `guess-${i}`),
            FORM,
            '198.51.100.1',
          )
        ).status,
      );
    assert.deepEqual(
      attempts,
      [...Array<number>(10).fill(401), 429],
      '10 failures are answered 401, the 11th 429',
    );
    const guess = await post(
      'grant_type=client_credentials',
      basic('victim', 'guess-more'),
      FORM,
      '198.51.100.1',
    );
    assertError(guess, 429, 'invalid_client');
    assert.ok(Number(header(guess, 'retry-after')) > 0);
    const owner = await post(
      'grant_type=client_credentials',
      basic('victim', own),
      FORM,
      '198.51.100.1',
    );
    assert.equal(owner.status, 200, owner.body);
    assert.equal(typeof JSON.parse(owner.body).access_token, 'string');
    assert.equal(
      (await post('grant_type=client_credentials', basic('victim', own), FORM, '198.51.100.2'))
        .status,
      200,
    );
  });

  test('guesses spread over many IPs are each bounded per IP and never lock the owner out', async () => {
    const { secret: own } = await security.clients.add('spread', ['a']);
    for (let i = 0; i < 12; i += 1)
      assertError(
        await post(
          'grant_type=client_credentials',
          basic('spread', `guess-${i}`),
          FORM,
          `198.51.101.${i}`,
        ),
        401,
        'invalid_client',
      );
    assert.equal(
      (await post('grant_type=client_credentials', basic('spread', own), FORM, '198.51.101.200'))
        .status,
      200,
    );
  });

  test('an IP with too many failures gets 429 for its failures, but another client behind it still gets its token', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 31; i += 1)
      statuses.push(
        (await post('grant_type=client_credentials', basic(`ghost-${i}`, 'x'), FORM, '192.0.2.99'))
          .status,
      );
    assert.deepEqual(
      statuses,
      [...Array<number>(30).fill(401), 429],
      '30 failures are answered 401, the 31st 429',
    );
    assertError(
      await post('grant_type=client_credentials', basic('ghost-x', 'x'), FORM, '192.0.2.99'),
      429,
      'invalid_client',
    );
    const neighbour = await post(
      'grant_type=client_credentials',
      basic('billing', secret),
      FORM,
      '192.0.2.99',
    );
    assert.equal(neighbour.status, 200, neighbour.body);
  });
});
