import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePath } from '../../src/pipeline/normalize-path.js';

const cases: Array<[string, string]> = [
  ['/orders', '/orders'],
  ['/a/../admin', '/admin'],
  ['/orders/%2e%2e/admin', '/admin'],
  ['/orders/%2E%2E/admin', '/admin'],
  ['/a/.%2E/b', '/b'],
  ['/a//b', '/a/b'],
  ['//admin', '/admin'],
  ['/orders%2F..%2Fadmin', '/orders%2F..%2Fadmin'],
  ['/orders%2f7', '/orders%2F7'],
  ['/a/./b/.', '/a/b/'],
  ['/a/b/..', '/a/'],
  ['/..', '/'],
  ['/../../etc/passwd', '/etc/passwd'],
  ['/%7Euser/%41', '/~user/A'],
  ['/caf%c3%a9', '/caf%C3%A9'],
];

test('normalisation decodes unreserved escapes, merges slashes and removes dot-segments', () => {
  for (const [input, expected] of cases) assert.equal(normalizePath(input), expected, input);
});

test('targets that are not origin-form paths or carry broken escapes are refused', () => {
  assert.equal(normalizePath('x/y'), 'invalid_target');
  assert.equal(normalizePath('*'), 'invalid_target');
  assert.equal(normalizePath('/a%zz'), 'invalid_percent_encoding');
  assert.equal(normalizePath('/a%2'), 'invalid_percent_encoding');
});
