/** Accept-Encoding negotiation (RFC 9110 12.5.3) against a route's offered codings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCompression, negotiate } from '../../src/proxy/compression.js';
import type { ContentCoding } from '../../src/request/policy-state.js';

const both = compileCompression({ encodings: ['br', 'gzip'], minBytes: 0, types: ['text/*'] });
const gzipFirst = compileCompression({ encodings: ['gzip', 'br'], minBytes: 0, types: ['text/*'] });

const cases: Array<[string | undefined, ContentCoding | undefined, ContentCoding | undefined]> = [
  // [Accept-Encoding, chosen when br is preferred, chosen when gzip is preferred]
  [undefined, undefined, undefined],
  ['', undefined, undefined],
  ['identity', undefined, undefined],
  ['gzip, deflate, br, zstd', 'br', 'gzip'],
  ['gzip', 'gzip', 'gzip'],
  ['x-gzip', 'gzip', 'gzip'],
  ['BR', 'br', 'br'],
  ['br;q=0.5, gzip', 'gzip', 'gzip'],
  ['br;q=1.0, gzip;q=0.9', 'br', 'br'],
  ['gzip;q=0, br;q=0', undefined, undefined],
  ['*', 'br', 'gzip'],
  ['*;q=0.2, gzip;q=0', 'br', 'br'],
  ['br ; q=0 , *', 'gzip', 'gzip'],
  ['deflate', undefined, undefined],
  ['gzip;q=abc, br;q=0.1', 'br', 'br'],
];

for (const [header, preferBr, preferGzip] of cases) {
  test(`Accept-Encoding ${JSON.stringify(header)} gives ${preferBr ?? 'none'} (br first) and ${preferGzip ?? 'none'} (gzip first)`, () => {
    assert.equal(negotiate(both, header), preferBr);
    assert.equal(negotiate(gzipFirst, header), preferGzip);
    // Asked again, the cached answer is the same.
    assert.equal(negotiate(both, header), preferBr);
  });
}

test('long Accept-Encoding values are negotiated but never cached, and the cache stays bounded', () => {
  const policy = compileCompression({ encodings: ['br', 'gzip'], minBytes: 0, types: ['text/*'] });
  const long = `${'x-pad;q=0.1, '.repeat(20)}gzip`;
  assert.equal(negotiate(policy, long), 'gzip');
  assert.equal(policy.negotiated.size, 0);
  for (let i = 0; i < 1000; i++) negotiate(policy, `gzip, x-${i}`);
  assert.ok(policy.negotiated.size <= 256);
});
