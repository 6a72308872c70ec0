/** The stage registry: the one order every route's stages run in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STAGES } from '../../src/pipeline/stages.js';

test('stages run in the registry order: edge policies that refuse or answer before auth, auth, then rate limiting (an anonymous caller spends no token), plugins (which see the principal), then the request and response shaping', () => {
  assert.deepEqual(
    STAGES.map(([name]) => name),
    [
      'response_headers',
      'ip_rules',
      'cors',
      'auth',
      'rate_limit',
      'plugins',
      'request_headers',
      'compression',
    ],
  );
});
