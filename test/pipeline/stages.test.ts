/** The stage registry: the one order every route's stages run in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STAGES } from '../../src/pipeline/stages.js';

test('stages run in the registry order: auth, then rate limiting (an anonymous caller spends no token), then plugins (which see the principal)', () => {
  assert.deepEqual(STAGES.map(([name]) => name), ['auth', 'rate_limit', 'plugins']);
});
