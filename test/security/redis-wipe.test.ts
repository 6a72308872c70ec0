/** A Redis restarted without persistence: gateways write back the signing keys and revocations they hold, so tokens keep verifying. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS_HASH } from '../../src/security/key-records.js';
import { REVOCATIONS_KEY } from '../../src/security/revocations.js';
import { waitFor } from '../helpers/wait-for.js';
import { redisSecurityCores, verdict } from './fixtures.js';

const cores = redisSecurityCores();

test('after Redis restarts empty, tokens signed before keep verifying on the running gateway and on one started afterwards; revocations survive', async () => {
  const running = await cores.core();
  const before = await running.issueToken({ sub: 'issued-before', scopes: [], ttlMs: 3_600_000 });
  const revoked = await running.issueToken({ sub: 'revoked-before', scopes: [], ttlMs: 3_600_000 });
  await running.revoke(revoked.jti, revoked.expiresAt);
  const redis = cores.redis();
  const probe = redis.client();
  const kidsBefore = Object.keys(await probe.hgetall(KEYS_HASH)).sort();

  await redis.stop();
  await redis.restart();
  await waitFor(
    async () => (await probe.hlen(KEYS_HASH)) === kidsBefore.length,
    5000,
    'the running gateway to write its keys back',
  );
  assert.deepEqual(
    Object.keys(await probe.hgetall(KEYS_HASH)).sort(),
    kidsBefore,
    'the same keys, not new ones',
  );
  await waitFor(
    async () => (await probe.zscore(REVOCATIONS_KEY, revoked.jti)) !== null,
    5000,
    'the revocation to be written back',
  );

  assert.equal(await verdict(running, before.token, 'message'), 'issued-before');
  const started = await cores.core();
  assert.equal(await verdict(started, before.token, 'message'), 'issued-before');
  assert.equal(await verdict(started, revoked.token, 'message'), 'invalid token: token revoked');
  const after = await running.issueToken({ sub: 'issued-after', scopes: [], ttlMs: 60_000 });
  assert.equal(await verdict(started, after.token, 'message'), 'issued-after');
  probe.disconnect();
});
