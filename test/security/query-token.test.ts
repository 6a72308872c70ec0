/** RFC 6750 2.3 query tokens: read from `access_token`, and removed from the forwarded query without touching the rest. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queryAccessToken, withoutAccessToken } from '../../src/security/query-token.js';

const cases: ReadonlyArray<readonly [string, string | undefined, string]> = [
  ['', undefined, ''],
  ['?', undefined, '?'],
  ['?access_token=abc', 'abc', ''],
  ['?a=1&access_token=abc&b=%2F', 'abc', '?a=1&b=%2F'],
  ['?access_token=a%2Eb&access_token=zzz', 'a.b', ''],
  ['?access_tokens=1&x=access_token', undefined, '?access_tokens=1&x=access_token'],
  ['?access_token', undefined, ''],
  ['?access_token=&a=1', undefined, '?a=1'],
  ['?access_token=%E0%A4%A', undefined, ''],
];

for (const [query, token, forwarded] of cases) {
  test(`"${query}": token ${JSON.stringify(token)}, forwarded "${forwarded}"`, () => {
    assert.equal(queryAccessToken(query), token);
    assert.equal(withoutAccessToken(query), forwarded);
  });
}
