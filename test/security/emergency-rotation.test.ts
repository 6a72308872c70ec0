/** `keys rotate --emergency` (a leaked key): every token issued before is refused at once, on every gateway, verified before or not. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait-for.js';
import { redisSecurityCores, verdict } from './fixtures.js';

const cores = redisSecurityCores();

test('a token the gateway verified (and cached) before an emergency rotation is refused after it, like one it never saw', async () => {
  const gateway = await cores.core();
  const cli = await cores.core();
  const used = await gateway.issueToken({ sub: 'used-before', scopes: [], ttlMs: 3_600_000 });
  const unseen = await gateway.issueToken({ sub: 'unseen', scopes: [], ttlMs: 3_600_000 });
  assert.equal(await verdict(gateway, used.token, 'code'), 'used-before');

  await cli.keys.revokeAll();
  await waitFor(
    async () => (await verdict(gateway, unseen.token, 'code')) === 'unauthorized',
    5000,
    'the gateway to learn of the rotation',
  );
  assert.equal(
    await verdict(gateway, used.token, 'code'),
    'unauthorized',
    'the cached verdict rests on a revoked key',
  );
  const fresh = await gateway.issueToken({ sub: 'fresh', scopes: [], ttlMs: 3_600_000 });
  assert.equal(await verdict(gateway, fresh.token, 'code'), 'fresh');
});
