/** Request ids: sane client ids are kept, anything else is replaced by a unique generated id. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  createRequestIdGenerator,
  isSaneRequestId,
  resolveRequestId,
} from '../../src/telemetry/request-id.js';

describe('request id', () => {
  const cases: Array<[string, string | string[] | undefined, boolean]> = [
    ['a UUID', '3f2b8c1e-9d4a-4f6b-8e2a-1c3d5e7f9a0b', true],
    ['dots, colons and underscores', 'svc.a:b_c-1', true],
    ['exactly 128 characters', 'a'.repeat(128), true],
    ['129 characters', 'a'.repeat(129), false],
    ['empty', '', false],
    ['a space', 'a b', false],
    ['a newline (log injection)', 'id\nlevel=error', false],
    ['a quote', 'id"x', false],
    ['non-ASCII', 'idé', false],
    ['a repeated header', ['a', 'b'], false],
    ['absent', undefined, false],
  ];
  for (const [name, incoming, kept] of cases) {
    test(`${name}: ${kept ? 'kept' : 'replaced'}`, () => {
      const id = resolveRequestId(incoming, () => 'generated');
      assert.equal(id, kept ? incoming : 'generated');
    });
  }

  test('generated ids are unique, sane, and share a random per-process prefix', () => {
    const next = createRequestIdGenerator((n) => Buffer.alloc(n, 7));
    const ids = Array.from({ length: 1000 }, () => next());
    assert.equal(new Set(ids).size, 1000);
    for (const id of ids) assert.ok(isSaneRequestId(id), id);
    assert.equal(ids[0], 'BwcHBwcHBwcH-0');
    assert.equal(ids[36], 'BwcHBwcHBwcH-10');
    const other = createRequestIdGenerator();
    assert.notEqual(other().split('-')[0], createRequestIdGenerator()().split('-')[0]);
  });
});
