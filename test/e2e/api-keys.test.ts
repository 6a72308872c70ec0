/** API keys through real gateways: CLI and admin issue, x-api-key as the consumer's identity, revocation on a second gateway within 1 s, the shared throttle, memory mode. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli } from '../cli/cli-process.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startGateway, serviceYaml, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const config = (upstream: string): string => `gateway:
  trustedProxies: [127.0.0.1]
auth:
  issuers:
    - { issuer: edgeway, audience: api }
${serviceYaml('svc', [upstream])}routes:
  - { name: keyed, match: { path: /keyed }, service: svc, auth: { required: true, scopes: [orders:read], apiKeys: true } }
  - { name: limited, match: { path: /limited }, service: svc, auth: { apiKeys: true }, rateLimit: { capacity: 2, refillPerSecond: 0.01, key: consumer } }
`;

/** Runs `edgeway apikeys ...` to completion; returns stdout, failing on a non-zero exit. */
async function apikeys(args: string[], env: Record<string, string>): Promise<string> {
  const cli = runCli(['apikeys', ...args], env);
  const code = await cli.exited();
  assert.equal(code, 0, cli.stderr());
  return cli.stdout();
}

let nextIp = 1;
/** A client address of its own (trusted X-Forwarded-For), so one test's refusals never throttle another's. */
const freshIp = (): string => `10.7.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`;

async function call(
  gw: TestGateway,
  path: string,
  headers: Record<string, string> = {},
  ip = freshIp(),
  signal?: AbortSignal,
) {
  const res = await request(`${gw.url}${path}`, {
    headers: { 'x-forwarded-for': ip, ...headers },
    signal,
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    code:
      res.statusCode >= 400
        ? (JSON.parse(text) as { error: { code: string } }).error.code
        : undefined,
  };
}

describe('API keys on Redis, two gateways', () => {
  let redis: TestRedis;
  let upstream: Upstream;
  let first: TestGateway;
  let second: TestGateway;
  let env: Record<string, string>;

  before(async () => {
    redis = await startRedis();
    upstream = await startUpstream();
    first = await startGateway({ 'c.yaml': config(upstream.url) }, { redisUrl: redis.url });
    second = await startGateway({ 'c.yaml': config(upstream.url) }, { redisUrl: redis.url });
    env = { REDIS_URL: redis.url };
  });

  after(async () => {
    await first?.stop();
    await second?.stop();
    await upstream?.close();
    await redis?.stop();
  });

  test('a CLI-issued key authenticates as its consumer; the upstream never sees the key, the access log never holds it', async () => {
    const { id, key } = JSON.parse(
      await apikeys(
        ['issue', '--consumer', 'team-a', '--scope', 'orders:read orders:write', '--ttl', '30d'],
        env,
      ),
    ) as { id: string; key: string };
    assert.match(id, /^ak_/);
    const res = await call(first, '/keyed/1', { 'x-api-key': key });
    assert.equal(res.status, 200, res.text);
    const seen = upstream.seen.at(-1);
    assert.equal(seen?.headers['x-edgeway-sub'], 'team-a');
    assert.equal(seen?.headers['x-edgeway-scopes'], 'orders:read orders:write');
    assert.equal(seen?.headers['x-api-key'], undefined);
    assert.equal(seen?.rawHeaders.join('\n').includes(key), false);
    await waitFor(
      () => first.accessLines.some((line) => line.includes('"sub":"team-a"')),
      2000,
      'the access-log line',
    );
    assert.equal(first.accessLines.join('\n').includes(key), false);
    // A CGI-style upstream reads X_Api_Key as HTTP_X_API_KEY, the very variable x-api-key becomes.
    assert.equal((await call(first, '/keyed/1', { 'x-api-key': key, X_Api_Key: key })).status, 200);
    assert.equal(
      upstream.seen.at(-1)?.rawHeaders.join('\n').includes(key),
      false,
      'the key reached the upstream under another spelling',
    );
    const listed = await apikeys(['list'], env);
    assert.match(listed, new RegExp(`${id}\\s+team-a`));
    assert.equal(listed.includes(key), false);
  });

  test('an unknown key is 401 unauthorized and never reaches the upstream; a malformed one costs no Redis read', async () => {
    const client = redis.client();
    const hgets = async (): Promise<number> =>
      Number(/cmdstat_hget:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    try {
      const before = upstream.seen.length;
      const reads = await hgets();
      const malformed = await call(first, '/keyed/1', { 'x-api-key': 'ewk_not-a-key' });
      assert.equal(await hgets(), reads, 'no lookup for a value that cannot be a key');
      const unknown = await call(first, '/keyed/1', { 'x-api-key': `ewk_${'A'.repeat(43)}` });
      assert.equal(await hgets(), reads + 1, 'one HGET for a well-formed key');
      for (const res of [malformed, unknown]) {
        assert.equal(res.status, 401);
        assert.equal(res.code, 'unauthorized');
        assert.equal(res.headers['www-authenticate'], 'Bearer realm="edgeway"');
      }
      assert.equal(upstream.seen.length, before);
    } finally {
      client.disconnect();
    }
  });

  test("scopes are checked like a token's, and a key with a bearer token beside it is refused", async () => {
    const { key } = JSON.parse(
      await apikeys(['issue', '--consumer', 'reader-less', '--scope', 'other'], env),
    ) as { key: string };
    const scoped = await call(first, '/keyed/1', { 'x-api-key': key });
    assert.equal(scoped.status, 403);
    assert.equal(scoped.code, 'forbidden');
    const both = await call(first, '/limited', {
      'x-api-key': key,
      authorization: 'Bearer abc.def.ghi',
    });
    assert.equal(both.status, 400);
    assert.equal(both.headers['www-authenticate'], 'Bearer error="invalid_request"');
  });

  test('a revoked key stops working on another gateway that had it cached, within 1 s', async () => {
    const { id, key } = JSON.parse(
      await apikeys(['issue', '--consumer', 'leaver', '--scope', 'orders:read'], env),
    ) as { id: string; key: string };
    assert.equal((await call(second, '/keyed/1', { 'x-api-key': key })).status, 200);
    assert.equal(
      (await call(second, '/keyed/1', { 'x-api-key': key })).status,
      200,
      'served from the cache',
    );
    const cli = runCli(['apikeys', 'revoke', '--id', id], env);
    await cli.waitFor(`revoked ${id}`);
    await waitFor(
      async () => (await call(second, '/keyed/1', { 'x-api-key': key })).status === 401,
      1000,
      'the second gateway to refuse the revoked key',
    );
    assert.equal(await cli.exited(), 0);
  });

  test('the admin API issues (key in that answer only), lists and revokes keys', async () => {
    const created = await fetch(`${first.adminUrl}/admin/apikeys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ consumer: 'svc-b', scopes: ['orders:read'], ttl: '1h' }),
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const body = (await created.json()) as {
      id: string;
      key: string;
      consumer: string;
      expiresAt: string;
    };
    assert.equal(body.consumer, 'svc-b');
    assert.ok(Date.parse(body.expiresAt) > Date.now());
    assert.equal((await call(second, '/keyed/1', { 'x-api-key': body.key })).status, 200);
    const listed = await (await fetch(`${first.adminUrl}/admin/apikeys`)).text();
    assert.ok(listed.includes(body.id));
    assert.equal(listed.includes(body.key), false);
    assert.equal(
      (await fetch(`${first.adminUrl}/admin/apikeys/${body.id}`, { method: 'DELETE' })).status,
      200,
    );
    assert.equal(
      (await fetch(`${first.adminUrl}/admin/apikeys/${body.id}`, { method: 'DELETE' })).status,
      404,
    );
    await waitFor(
      async () => (await call(second, '/keyed/1', { 'x-api-key': body.key })).status === 401,
      1000,
      'the admin revocation on the other gateway',
    );
    const bad = await fetch(`${first.adminUrl}/admin/apikeys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ consumer: 'x', scopes: 'a' }),
    });
    assert.equal(bad.status, 400);
  });

  test('invalid keys count towards the invalid-credential throttle, which never refuses a valid key', async () => {
    const { key } = JSON.parse(
      await apikeys(['issue', '--consumer', 'behind-nat', '--scope', 'orders:read'], env),
    ) as { key: string };
    const ip = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++)
      statuses.push((await call(first, '/keyed/1', { 'x-api-key': `ewk_guess${i}` }, ip)).status);
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(401));
    assert.equal(statuses[20], 429, 'the 21st invalid credential in a minute');
    const blockedToken = await call(
      second,
      '/keyed/1',
      { authorization: 'Bearer abc.def.ghi' },
      ip,
    );
    assert.equal(blockedToken.status, 429, 'tokens and keys share the throttle, on every gateway');
    assert.equal(
      (await call(first, '/keyed/1', { 'x-api-key': key }, ip)).status,
      200,
      'a valid key from the throttled address still passes',
    );
  });

  test('the consumer is the rate-limit key: one bucket for every address the key is used from', async () => {
    const { key } = JSON.parse(
      await apikeys(['issue', '--consumer', 'limited-one', '--scope', ''], env),
    ) as { key: string };
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (await call(i % 2 === 0 ? first : second, '/limited', { 'x-api-key': key })).status,
      );
    assert.deepEqual(statuses, [200, 200, 429]);
  });

  test('while Redis is away a cached key keeps working and an uncached one is 503, not 401', async () => {
    const { key: cachedKey } = JSON.parse(
      await apikeys(['issue', '--consumer', 'steady', '--scope', 'orders:read'], env),
    ) as { key: string };
    const { key: coldKey } = JSON.parse(
      await apikeys(['issue', '--consumer', 'cold', '--scope', 'orders:read'], env),
    ) as { key: string };
    assert.equal((await call(first, '/keyed/1', { 'x-api-key': cachedKey })).status, 200);
    await redis.stop();
    try {
      assert.equal(
        (await call(first, '/keyed/1', { 'x-api-key': cachedKey })).status,
        200,
        'served from the cache',
      );
      const cold = await call(first, '/keyed/1', { 'x-api-key': coldKey });
      assert.equal(cold.status, 503);
      assert.equal(cold.code, 'unavailable');
    } finally {
      await redis.restart();
    }
  });
});

describe('API keys on a Redis that hangs', () => {
  /** LOOKUP_DEADLINE_MS in src/security/api-keys/authenticate.ts. */
  const DEADLINE_MS = 1000;
  let redis: TestRedis;
  let upstream: Upstream;
  let gw: TestGateway;
  let frozen = false;

  /** SIGSTOP keeps the TCP connection open and unanswered: no error, no close, unlike a stopped Redis. */
  const freeze = (): void => {
    process.kill(redis.pid, 'SIGSTOP');
    frozen = true;
  };
  const thaw = (): void => {
    if (frozen) process.kill(redis.pid, 'SIGCONT');
    frozen = false;
  };

  before(async () => {
    redis = await startRedis();
    upstream = await startUpstream();
    gw = await startGateway(
      {
        'c.yaml': `${config(upstream.url)}  - { name: open, match: { path: /open }, service: svc }\n`,
      },
      { redisUrl: redis.url },
    );
  });

  after(async () => {
    if (redis !== undefined) thaw();
    await gw?.stop();
    await upstream?.close();
    await redis?.stop();
  });

  test('an uncached key is 503 with Retry-After once the lookup deadline passes, while a cached key and other routes keep serving', async () => {
    const issue = async (consumer: string): Promise<string> => {
      const res = await fetch(`${gw.adminUrl}/admin/apikeys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ consumer, scopes: ['orders:read'] }),
      });
      assert.equal(res.status, 201);
      return ((await res.json()) as { key: string }).key;
    };
    const cachedKey = await issue('warm');
    const coldKey = await issue('frozen-out');
    assert.equal((await call(gw, '/keyed/1', { 'x-api-key': cachedKey })).status, 200);
    const coldIp = freshIp();
    freeze();
    try {
      // Without the deadline the lookup waits on Redis for ever; 5x the deadline bounds this test's wait.
      const bound = AbortSignal.timeout(5 * DEADLINE_MS);
      let coldSettled = false;
      const coldCall = call(gw, '/keyed/1', { 'x-api-key': coldKey }, coldIp, bound).finally(() => {
        coldSettled = true;
      });
      const open = await call(gw, '/open/1', {}, freshIp(), bound);
      assert.equal(open.status, 200, 'a route without keys is served while the lookup hangs');
      assert.equal(coldSettled, false, 'the hanging lookup blocked nothing else');
      const cached = await call(gw, '/keyed/1', { 'x-api-key': cachedKey }, freshIp(), bound);
      assert.equal(cached.status, 200, 'a cached key needs no Redis');
      const cold = await coldCall;
      assert.equal(cold.status, 503, cold.text);
      assert.equal(cold.code, 'unavailable');
      assert.equal(cold.headers['retry-after'], '1');
    } finally {
      thaw();
    }
    assert.equal(
      (await call(gw, '/keyed/1', { 'x-api-key': coldKey })).status,
      200,
      'once Redis answers again the same key authenticates',
    );
    // Commands queued while Redis hung have run by now (one connection, in order): had the 503 been
    // counted as an invalid credential, the throttle's counter for coldIp would exist.
    const guesserIp = freshIp();
    assert.equal(
      (await call(gw, '/keyed/1', { 'x-api-key': 'ek_not-a-key' }, guesserIp)).status,
      401,
    );
    const raw = redis.client();
    try {
      assert.equal(
        await raw.exists(`edgeway:{auth-failures}:${guesserIp}`),
        1,
        'a refusal is counted',
      );
      assert.equal(
        await raw.exists(`edgeway:{auth-failures}:${coldIp}`),
        0,
        'a 503 from the lookup deadline is not an invalid credential',
      );
    } finally {
      raw.disconnect();
    }
  });
});

describe('API keys on the embedded store', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let env: Record<string, string>;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({ 'c.yaml': config(upstream.url) });
    env = { EDGEWAY_DATA_DIR: join(gw.configDir, '.data') };
  });

  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  test('a key the CLI issues beside a running gateway works, and its revocation lands within 1 s', async () => {
    const { id, key } = JSON.parse(
      await apikeys(['issue', '--consumer', 'local', '--scope', 'orders:read'], env),
    ) as { id: string; key: string };
    await waitFor(
      async () => (await call(gw, '/keyed/1', { 'x-api-key': key })).status === 200,
      1000,
      'the gateway to accept the new key',
    );
    const cli = runCli(['apikeys', 'revoke', '--id', id], env);
    await cli.waitFor(`revoked ${id}`);
    await waitFor(
      async () => (await call(gw, '/keyed/1', { 'x-api-key': key })).status === 401,
      1000,
      'the gateway to refuse the revoked key',
    );
    await cli.exited();
  });
});
