/** Identity headers: one encoding for sub, scopes and claims, ASCII out, reversible with decodeURIComponent. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addIdentityHeaders,
  claimValue,
  encodeHeaderList,
  encodeHeaderValue,
} from '../../src/security/identity-headers.js';

describe('encodeHeaderValue', () => {
  const cases: Array<[string, string, string]> = [
    ['plain visible ASCII passes unchanged', 'alice@example.com', 'alice@example.com'],
    ['an empty value stays empty', '', ''],
    ['non-Latin-1 characters become percent-encoded UTF-8', '山田', '%E5%B1%B1%E7%94%B0'],
    ['Latin-1 letters are encoded too (obs-text is not for senders)', 'Zoë', 'Zo%C3%AB'],
    ['a percent sign is encoded, so decoding is unambiguous', '100%', '100%25'],
    ['an already encoded-looking value stays distinct from what it looks like', '%E5', '%25E5'],
    ['CR and LF cannot start another header', 'a\r\nx-injected: 1', 'a%0D%0Ax-injected:%201'],
    ['spaces and tabs are encoded', ' a\tb ', '%20a%09b%20'],
    ['a lone surrogate becomes U+FFFD instead of throwing', 'a\ud800', 'a%EF%BF%BD'],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      assert.equal(encodeHeaderValue(input), expected);
      assert.match(expected, /^[\x21-\x7e]*$/);
    });
  }

  test('decodeURIComponent gives back the original', () => {
    for (const text of ['山田', 'a b%c', 'Zoë\r\n', '\u0000'])
      assert.equal(decodeURIComponent(encodeHeaderValue(text)), text);
  });
});

describe('encodeHeaderList', () => {
  test('items joined by single spaces; a space inside an item is %20', () => {
    assert.equal(
      encodeHeaderList(['orders:read', 'a b', '注文']),
      'orders:read a%20b %E6%B3%A8%E6%96%87',
    );
  });
});

describe('claimValue', () => {
  const cases: Array<[string, unknown, string | undefined]> = [
    ['a string', 'acme', 'acme'],
    ['a number', 42, '42'],
    ['a boolean', true, 'true'],
    ['an array is a list', ['a', 'b c'], 'a b%20c'],
    ['an object is not sent', { a: 1 }, undefined],
    ['an empty string is not sent', '', undefined],
    ['a long value is cut at 256 characters', 't'.repeat(1000), 't'.repeat(256)],
    ['a cut never splits an escape', `${'t'.repeat(254)}山`, 't'.repeat(254)],
  ];
  for (const [name, claim, expected] of cases)
    test(name, () => assert.equal(claimValue(claim), expected));
});

describe('addIdentityHeaders', () => {
  test('sub and scopes are encoded and never cut; claims follow the same rule', () => {
    const headers: Array<[string, string]> = [];
    const sub = '山'.repeat(200);
    addIdentityHeaders(
      headers,
      { sub, scopes: ['read', 'écrire'], claims: { tenant: 'Zoë', other: 1 } },
      [
        ['x-edgeway-tenant', 'tenant'],
        ['x-edgeway-missing', 'nope'],
      ],
    );
    assert.deepEqual(headers, [
      ['x-edgeway-sub', encodeHeaderValue(sub)],
      ['x-edgeway-scopes', 'read %C3%A9crire'],
      ['x-edgeway-tenant', 'Zo%C3%AB'],
    ]);
    assert.equal(decodeURIComponent(headers[0]![1]), sub);
  });
});
