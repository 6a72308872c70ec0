/** The Redis URL parser: each topology's options, and an error naming the bad part for each malformed URL. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  createRedisClient,
  parseRedisUrl,
  redact,
  REDIS_COMMAND_TIMEOUT_MS,
  RedisUrlError,
} from '../../src/store/redis-url.js';
import { startRedis } from '../helpers/redis-server.js';

describe('parseRedisUrl', () => {
  test('a standalone URL gives host, port, password, db and the shared options', () => {
    const t = parseRedisUrl('redis://:s%40cret@10.0.0.5:6380/2');
    assert.equal(t.kind, 'standalone');
    assert.equal(t.options.host, '10.0.0.5');
    assert.equal(t.options.port, 6380);
    assert.equal(t.options.password, 's@cret');
    assert.equal(t.options.db, 2);
    assert.equal(t.options.enableAutoPipelining, true);
    assert.equal(t.options.maxRetriesPerRequest, 1);
    assert.equal(t.options.tls, undefined);
  });

  test('rediss:// turns TLS on and the port defaults to 6379', () => {
    const t = parseRedisUrl('rediss://user:pw@cache.example.com');
    assert.equal(t.kind, 'standalone');
    assert.deepEqual(t.options.tls, {});
    assert.equal(t.options.port, 6379);
    assert.equal(t.options.username, 'user');
    assert.equal(t.options.password, 'pw');
  });

  test('an IPv6 host in brackets', () => {
    const t = parseRedisUrl('redis://[::1]:7000');
    assert.equal(t.kind, 'standalone');
    if (t.kind !== 'standalone') return;
    assert.equal(t.options.host, '::1');
    assert.equal(t.options.port, 7000);
  });

  test('a Sentinel set gives sentinels, the master name and the db', () => {
    const t = parseRedisUrl(
      'redis+sentinel://:pw@s1:26379,s2,s3:26380/mymaster/1?sentinelPassword=sp',
    );
    assert.equal(t.kind, 'sentinel');
    assert.deepEqual(t.options.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
      { host: 's3', port: 26380 },
    ]);
    assert.equal(t.options.name, 'mymaster');
    assert.equal(t.options.db, 1);
    assert.equal(t.options.password, 'pw');
    assert.equal(t.options.sentinelPassword, 'sp');
    assert.equal(t.options.maxRetriesPerRequest, 1);
  });

  test('a Cluster seed list gives nodes and per-node options', () => {
    const t = parseRedisUrl('redis+cluster://:pw@h1:7000,h2:7001,h3');
    assert.equal(t.kind, 'cluster');
    if (t.kind !== 'cluster') return;
    assert.deepEqual(t.nodes, [
      { host: 'h1', port: 7000 },
      { host: 'h2', port: 7001 },
      { host: 'h3', port: 6379 },
    ]);
    assert.equal(t.options.enableAutoPipelining, true);
    assert.equal(t.options.redisOptions?.maxRetriesPerRequest, 1);
    assert.equal(t.options.redisOptions?.password, 'pw');
  });

  test('rediss+sentinel and rediss+cluster turn TLS on for every connection', () => {
    const s = parseRedisUrl('rediss+sentinel://s1/m');
    assert.equal(s.kind, 'sentinel');
    if (s.kind !== 'sentinel') return;
    assert.deepEqual(s.options.tls, {});
    assert.equal(s.options.enableTLSForSentinelMode, true);
    const c = parseRedisUrl('rediss+cluster://h1:7000');
    assert.equal(c.kind, 'cluster');
    if (c.kind !== 'cluster') return;
    assert.deepEqual(c.options.redisOptions?.tls, {});
  });

  const bad: Array<[string, RegExp]> = [
    ['http://h:1', /unknown scheme "http:"/],
    ['redis://', /no host/],
    ['redis://h:99999', /bad port in "h:99999"/],
    ['redis://h:1/99', /bad database number "99"/],
    ['redis://a:1,b:2', /2 hosts in a standalone URL/],
    ['redis+sentinel://s1:26379', /no master name/],
    ['redis+sentinel://s1/m/0/x', /bad path "\/m\/0\/x"/],
    ['redis+cluster://h1:7000/0', /a Cluster has no database number/],
    ['redis://h:1?foo=1', /unknown query parameter "foo"/],
    ['not a url', /cannot read/],
  ];
  for (const [url, message] of bad) {
    test(`refuses ${url}`, () => {
      assert.throws(
        () => parseRedisUrl(url),
        (err: unknown) => err instanceof RedisUrlError && message.test(err.message),
      );
    });
  }

  test('redact hides the password', () => {
    assert.equal(redact('redis://:secret@h:1'), 'redis://:***@h:1');
    assert.equal(redact('redis://u:secret@h:1'), 'redis://u:***@h:1');
    assert.equal(redact('redis://h:1'), 'redis://h:1');
  });
});

describe('a Redis that hangs (SIGSTOP: the connection stays open and unanswered)', () => {
  test('every topology rejects a command after REDIS_COMMAND_TIMEOUT_MS', () => {
    for (const url of ['redis://h:1', 'redis+sentinel://h:26379/m']) {
      const t = parseRedisUrl(url);
      assert.ok(t.kind !== 'cluster');
      assert.equal(t.options.commandTimeout, REDIS_COMMAND_TIMEOUT_MS, url);
    }
    const c = parseRedisUrl('redis+cluster://h:7000');
    assert.ok(c.kind === 'cluster');
    assert.equal(c.options.redisOptions?.commandTimeout, REDIS_COMMAND_TIMEOUT_MS);
  });

  test('pending commands are rejected, not kept waiting; the client serves again once Redis does', async () => {
    const redis = await startRedis();
    const client = createRedisClient(parseRedisUrl(redis.url));
    let frozen = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      assert.equal(await client.ping(), 'PONG');
      process.kill(redis.pid, 'SIGSTOP');
      frozen = true;
      const started = performance.now();
      const pending = Array.from({ length: 50 }, (_, i) =>
        client.get(`k${i}`).then(
          () => 'answered',
          (err: Error) => err.message,
        ),
      );
      // Without a command timeout these wait as long as Redis hangs; 3x the timeout bounds the wait.
      const bound = new Promise<string[]>((resolve) => {
        timer = setTimeout(() => resolve(['still pending']), 3 * REDIS_COMMAND_TIMEOUT_MS);
      });
      const outcomes = await Promise.race([Promise.all(pending), bound]);
      assert.deepEqual(new Set(outcomes), new Set(['Command timed out']));
      assert.ok(
        performance.now() - started >= REDIS_COMMAND_TIMEOUT_MS - 50,
        'not before the timeout',
      );
      process.kill(redis.pid, 'SIGCONT');
      frozen = false;
      assert.equal(await client.ping(), 'PONG');
    } finally {
      clearTimeout(timer);
      if (frozen) process.kill(redis.pid, 'SIGCONT');
      client.disconnect();
      await redis.stop();
    }
  });

  test('a SUBSCRIBE sent while Redis hangs waits for it (never re-sent on an open connection) and then hears messages', async () => {
    const redis = await startRedis();
    const subscriber = createRedisClient(parseRedisUrl(redis.url), 'subscriber');
    const publisher = redis.client();
    let frozen = false;
    try {
      assert.equal(await subscriber.ping(), 'PONG');
      process.kill(redis.pid, 'SIGSTOP');
      frozen = true;
      let outcome = 'pending';
      const subscription = subscriber.subscribe('news').then(
        () => {
          outcome = 'subscribed';
        },
        (err: Error) => {
          outcome = err.message;
        },
      );
      await new Promise((resolve) => setTimeout(resolve, REDIS_COMMAND_TIMEOUT_MS + 500));
      assert.equal(outcome, 'pending', 'SUBSCRIBE was given up while the connection stayed open');
      process.kill(redis.pid, 'SIGCONT');
      frozen = false;
      await subscription;
      assert.equal(outcome, 'subscribed');
      const message = once(subscriber, 'message');
      await publisher.publish('news', 'hello');
      assert.deepEqual(await message, ['news', 'hello']);
    } finally {
      if (frozen) process.kill(redis.pid, 'SIGCONT');
      subscriber.disconnect();
      publisher.disconnect();
      await redis.stop();
    }
  });
});
