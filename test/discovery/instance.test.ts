/** Registration checks, static instances from config, and the Redis record encoding. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkRegistration,
  checkTtl,
  sameRegistration,
  staticInstances,
  type RegistrationInput,
} from '../../src/discovery/instance.js';
import { decodeRecord, encodeRecord } from '../../src/discovery/record-codec.js';
import { GatewayError } from '../../src/errors.js';

const base: RegistrationInput = {
  id: 'a1',
  service: 'orders',
  url: 'https://orders.internal:8443/base',
};

describe('checkRegistration', () => {
  test('applies defaults and sorts meta keys', () => {
    const reg = checkRegistration({ ...base, meta: { z: '1', a: '2' } });
    assert.deepEqual(reg, {
      id: 'a1',
      service: 'orders',
      url: 'https://orders.internal:8443/base',
      weight: 1,
      capacity: 100,
      meta: { a: '2', z: '1' },
      draining: false,
    });
    assert.deepEqual(Object.keys(reg.meta), ['a', 'z']);
    assert.ok(Object.isFrozen(reg) && Object.isFrozen(reg.meta));
  });

  const rejected: Array<[string, Partial<Record<keyof RegistrationInput, unknown>>, RegExp]> = [
    ['an empty id', { id: '' }, /^id must/],
    ['an id with "/"', { id: 'a/b' }, /^id must/],
    ['a 201-character service', { service: 'x'.repeat(201) }, /^service must/],
    ['a mailto url', { url: 'mailto:a@b.c' }, /http or https/],
    ['a bare host', { url: 'orders:80' }, /http or https/],
    ['an unparsable url', { url: 'http://' }, /absolute URL/],
    ['credentials in the url', { url: 'http://u:p@h/' }, /credentials/],
    ['a fractional weight', { weight: 1.5 }, /^weight/],
    ['weight 1e308', { weight: 1e308 }, /^weight must be at most 10000$/],
    ['weight 10001', { weight: 10_001 }, /^weight must be at most 10000$/],
    ['a zero capacity', { capacity: 0 }, /^capacity/],
    ['capacity 1e308', { capacity: 1e308 }, /^capacity must be at most 1000000$/],
    ['capacity 1000001', { capacity: 1_000_001 }, /^capacity must be at most 1000000$/],
    ['meta as an array', { meta: ['a'] }, /^meta/],
    ['an empty meta key', { meta: { '': 'x' } }, /^meta/],
    ['draining as a string', { draining: 'yes' }, /^draining/],
  ];
  for (const [what, change, message] of rejected) {
    test(`rejects ${what}`, () => {
      assert.throws(
        () => checkRegistration({ ...base, ...change } as RegistrationInput),
        (err: unknown) =>
          err instanceof GatewayError && err.code === 'bad_request' && message.test(err.message),
      );
    });
  }

  test('ttl must be a positive integer of milliseconds', () => {
    assert.equal(checkTtl(1), 1);
    for (const ttl of [0, -5, 2.5, Infinity, Number.NaN])
      assert.throws(() => checkTtl(ttl), GatewayError);
  });

  test('weight, capacity and ttl are bounded: 10000, 1000000 and 24h pass, one more is refused', () => {
    assert.equal(checkRegistration({ ...base, weight: 10_000 }).weight, 10_000);
    assert.equal(checkRegistration({ ...base, capacity: 1_000_000 }).capacity, 1_000_000);
    assert.equal(checkTtl(24 * 3_600_000), 24 * 3_600_000);
    for (const ttl of [24 * 3_600_000 + 1, 100_000 * 3_600_000])
      assert.throws(
        () => checkTtl(ttl),
        (err: unknown) =>
          err instanceof GatewayError &&
          err.code === 'bad_request' &&
          err.message === 'ttl must be at most 24h',
      );
  });
});

describe('sameRegistration', () => {
  test('ignores expiry but sees every other field, meta included', () => {
    const a = checkRegistration({ ...base, meta: { k: 'v' } });
    assert.ok(sameRegistration(a, { ...a }));
    assert.ok(!sameRegistration(a, { ...a, draining: true }));
    assert.ok(!sameRegistration(a, { ...a, meta: { k: 'w' } }));
    assert.ok(!sameRegistration(a, { ...a, meta: { k: 'v', extra: '' } }));
  });
});

describe('staticInstances', () => {
  test('never expire and take ids from the host, numbered on repeats', () => {
    const recs = staticInstances('orders', [
      'http://127.0.0.1:9001',
      { url: 'http://127.0.0.1:9001/v2', weight: 3, capacity: 200 },
      'http://[::1]:9003',
    ]);
    assert.deepEqual(
      recs.map((rec) => rec.id),
      ['127.0.0.1:9001', '127.0.0.1:9001.2', '_::1_:9003'],
    );
    assert.deepEqual(
      recs.map((rec) => [rec.weight, rec.capacity, rec.expiresAt]),
      [
        [1, 100, Infinity],
        [3, 200, Infinity],
        [1, 100, Infinity],
      ],
    );
  });
});

describe('record codec', () => {
  test('encodes with a fixed key order and decodes back to the same record', () => {
    const reg = checkRegistration({ ...base, weight: 2, meta: { b: '1', a: '2' } });
    const json = encodeRecord(reg);
    assert.equal(
      json,
      '{"url":"https://orders.internal:8443/base","weight":2,"capacity":100,"meta":{"a":"2","b":"1"},"draining":false}',
    );
    assert.deepEqual(decodeRecord('orders/a1', json, 1234), { ...reg, expiresAt: 1234 });
  });

  test('decodes a minimal hand-written record with defaults', () => {
    const rec = decodeRecord('orders/x:1', '{"url":"http://10.0.0.5"}', 5);
    assert.deepEqual(rec, {
      id: 'x:1',
      service: 'orders',
      url: 'http://10.0.0.5',
      weight: 1,
      capacity: 100,
      meta: {},
      draining: false,
      expiresAt: 5,
    });
  });

  const malformed: Array<[string, string, string]> = [
    ['not JSON', 'orders/a', '{url'],
    ['a JSON string', 'orders/a', '"http://x"'],
    ['a bad url', 'orders/a', '{"url":"ftp://x"}'],
    ['a weight over 10000', 'orders/a', '{"url":"http://x","weight":20000}'],
    ['a capacity of 1e308', 'orders/a', '{"url":"http://x","capacity":1e308}'],
    ['a member without service', '/a', '{"url":"http://x"}'],
  ];
  for (const [what, member, json] of malformed) {
    test(`reports ${what} as a message`, () => {
      assert.equal(typeof decodeRecord(member, json, 0), 'string');
    });
  }
});
