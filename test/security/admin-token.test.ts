/** The admin token check and bearer header parsing. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminTokenChecker } from '../../src/security/admin-token.js';
import { bearerCandidate, isB64Token, malformed } from '../../src/security/bearer.js';
import { GatewayError } from '../../src/errors.js';

describe('the admin token check', () => {
  const isAdmin = adminTokenChecker('s3cret-admin-token');

  const cases: Array<[string | undefined, boolean]> = [
    ['Bearer s3cret-admin-token', true],
    ['bearer s3cret-admin-token', true],
    ['Bearer s3cret-admin-tokeN', false],
    ['Bearer s3cret-admin-token-longer', false],
    ['s3cret-admin-token', false],
    ['Basic s3cret-admin-token', false],
    ['Bearer ', false],
    [undefined, false],
  ];
  for (const [header, expected] of cases) {
    test(`${JSON.stringify(header)} is ${expected ? 'accepted' : 'refused'}`, () =>
      assert.equal(isAdmin(header), expected));
  }

  test('refuses to be built with an empty token', () => {
    assert.throws(() => adminTokenChecker(''), RangeError);
  });
});

describe('bearer parsing', () => {
  test('returns the token, or undefined for no header or another scheme', () => {
    assert.equal(bearerCandidate('Bearer abc.def.ghi'), 'abc.def.ghi');
    assert.equal(bearerCandidate('BEARER abc'), 'abc');
    assert.equal(bearerCandidate(undefined), undefined);
    assert.equal(bearerCandidate('Digest x'), undefined);
  });

  test('throws invalid_token for a Bearer header without a token; b64token syntax is checked apart', () => {
    assert.throws(
      () => bearerCandidate('Bearer'),
      (err: unknown) => err instanceof GatewayError && err.code === 'unauthorized',
    );
    assert.equal(malformed().code, 'unauthorized');
    for (const header of ['Bearer a,b', 'Bearer a b', 'Bearer =abc', 'Bearer ']) {
      const token = bearerCandidate(header);
      assert.equal(token !== undefined && isB64Token(token), false, header);
    }
    assert.equal(isB64Token('abc.def-_~+/=='), true);
  });
});
