/** The verified-token LRU: bounded, expiring with the token, dropped on revocation. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache, tokenDigest } from '../../src/security/token-cache.js';

const principal = { sub: 's', scopes: [], claims: {} };

describe('the token cache', () => {
  test('keys entries by a SHA-256 digest, not the token', () => {
    const digest = tokenDigest('header.payload.signature');
    assert.equal(digest.includes('payload'), false);
    assert.equal(digest, tokenDigest('header.payload.signature'));
    assert.notEqual(digest, tokenDigest('header.payload.signaturf'));
  });

  test('an entry expires with its token', () => {
    let now = 1_000;
    const cache = new TokenCache(10, () => now);
    cache.set('d', { principal, expiresAt: 2_000, jti: 'j' });
    assert.equal(cache.get('d')?.principal, principal);
    now = 2_000;
    assert.equal(cache.get('d'), undefined);
    assert.equal(cache.size, 0);
  });

  test('holds at most maxEntries, evicting the least recently used', () => {
    const cache = new TokenCache(2, () => 0);
    cache.set('a', { principal, expiresAt: 10, jti: undefined });
    cache.set('b', { principal, expiresAt: 10, jti: undefined });
    assert.ok(cache.get('a'));
    cache.set('c', { principal, expiresAt: 10, jti: undefined });
    assert.equal(cache.size, 2);
    assert.ok(cache.get('a'));
    assert.equal(cache.get('b'), undefined);
    assert.ok(cache.get('c'));
  });

  test('dropJti forgets every entry of a revoked token id', () => {
    const cache = new TokenCache(10, () => 0);
    cache.set('a', { principal, expiresAt: 10, jti: 'j1' });
    cache.set('b', { principal, expiresAt: 10, jti: 'j2' });
    cache.dropJti('j1');
    assert.equal(cache.get('a'), undefined);
    assert.ok(cache.get('b'));
  });
});
