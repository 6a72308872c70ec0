/** The admin API against browsers: DNS rebinding (Host), cross-site requests (Origin, content type), oversized bodies. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adminHostNames,
  hostOf,
  isOwnOrigin,
  namesAdminListener,
} from '../../src/admin/browser-guard.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorOf, exchange, uploadUntilCut } from '../helpers/http-exchange.js';

const MINT = JSON.stringify({ sub: 'mallory', scopes: ['admin'], ttl: '1h' });

describe('which Host headers name the admin listener', () => {
  const names = adminHostNames('admin.internal', 'gw-7');
  const cases: Array<[string | undefined, boolean]> = [
    ['127.0.0.1:9901', true],
    ['127.0.0.1', true],
    ['10.1.2.3:9901', true],
    ['[::1]:9901', true],
    ['localhost:9901', true],
    ['LOCALHOST', true],
    ['app.localhost:9901', true],
    ['admin.internal:9901', true],
    ['GW-7:19901', true],
    ['attacker.example:9901', false],
    ['attacker.example', false],
    ['localhost.attacker.example', false],
    ['127.0.0.1.attacker.example', false],
    ['user@127.0.0.1', false],
    ['127.0.0.1/x', false],
    ['', false],
    [undefined, false],
  ];
  for (const [host, ok] of cases) {
    test(`Host ${JSON.stringify(host)} is ${ok ? 'accepted' : 'refused'}`, () => {
      assert.equal(namesAdminListener(host, names), ok);
    });
  }

  test('addresses are not listed as names, and names are compared lower-case', () => {
    assert.deepEqual([...adminHostNames('0.0.0.0', 'Box')], ['box']);
    assert.equal(hostOf('[::1]:80'), '::1');
  });

  test("an Origin is the listener's own only with the same host and port", () => {
    assert.equal(isOwnOrigin('http://127.0.0.1:9901', '127.0.0.1:9901'), true);
    assert.equal(isOwnOrigin('https://localhost', 'localhost:443'), true);
    assert.equal(isOwnOrigin('http://127.0.0.1:8080', '127.0.0.1:9901'), false);
    assert.equal(isOwnOrigin('http://attacker.example:9901', '127.0.0.1:9901'), false);
    assert.equal(isOwnOrigin('null', '127.0.0.1:9901'), false);
  });
});

describe('admin listener refuses what a browser on another site can send', () => {
  let gw: TestGateway;
  let port: number;

  before(async () => {
    gw = await startGateway({ 'c.yaml': 'routes: []\n' });
    port = gw.gateway.adminPort;
  });
  after(async () => {
    await gw.stop();
  });

  const refused: Array<[string, Record<string, string>, string, number, string]> = [
    [
      'a rebound Host (DNS rebinding)',
      { host: 'attacker.example:9901', 'content-type': 'application/json' },
      MINT,
      403,
      'forbidden',
    ],
    [
      'a foreign Origin',
      { origin: 'http://attacker.example', 'content-type': 'application/json' },
      MINT,
      403,
      'forbidden',
    ],
    [
      'Origin null (a sandboxed or file: page)',
      { origin: 'null', 'content-type': 'application/json' },
      MINT,
      403,
      'forbidden',
    ],
    [
      'a text/plain body (a simple cross-site fetch)',
      { 'content-type': 'text/plain' },
      MINT,
      415,
      'unsupported_media_type',
    ],
    [
      'a form body',
      { 'content-type': 'application/x-www-form-urlencoded' },
      'sub=mallory',
      415,
      'unsupported_media_type',
    ],
    ['a body without a content type', {}, MINT, 415, 'unsupported_media_type'],
  ];
  for (const [what, headers, body, status, code] of refused) {
    test(`POST /admin/tokens with ${what} is ${status} ${code} and mints nothing`, async () => {
      const answer = await exchange(port, 'POST', '/admin/tokens', headers, body);
      assert.equal(answer.status, status, answer.body);
      assert.equal(errorOf(answer).code, code);
      assert.equal(errorOf(answer).requestId, answer.headers['x-request-id']);
      assert.ok(!answer.body.includes('"token"'));
    });
  }

  test("the CLI's and the dashboard's requests pass: JSON from the listener's own origin, by address or localhost", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost:19901']) {
      const minted = await exchange(
        port,
        'POST',
        '/admin/tokens',
        { host, origin: `http://${host}`, 'content-type': 'application/json; charset=utf-8' },
        MINT,
      );
      assert.equal(minted.status, 200, `${host}: ${minted.body}`);
    }
    const revoke = await exchange(port, 'POST', '/admin/tokens/some-jti/revoke');
    assert.equal(revoke.status, 200, revoke.body);
    const stats = await exchange(port, 'GET', '/admin/stats', {
      origin: `http://127.0.0.1:${port}`,
    });
    assert.equal(stats.status, 200);
  });

  test('a body over 64 KiB is 413 payload_too_large before it is read, and the connection closes', async () => {
    const head = `POST /admin/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${300 * 1024 * 1024}\r\n\r\n`;
    const cut = await uploadUntilCut(port, head, Buffer.alloc(64 * 1024, 0x20), 300 * 1024 * 1024);
    assert.match(cut.reply, /^HTTP\/1\.1 413 /);
    assert.match(cut.reply, /"code":"payload_too_large"/);
    assert.ok(cut.sent < 300 * 1024 * 1024, 'the server closed before the whole body was sent');
  });

  test('a chunked body is counted too: 413 after 64 KiB, not after the whole upload', async () => {
    const head =
      'PUT /admin/services/orders/instances/i1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const payload = Buffer.alloc(16 * 1024, 0x20);
    const chunk = Buffer.concat([
      Buffer.from(`${payload.length.toString(16)}\r\n`),
      payload,
      Buffer.from('\r\n'),
    ]);
    const cut = await uploadUntilCut(port, head, chunk, 64 * 1024 * 1024);
    assert.match(cut.reply, /^HTTP\/1\.1 413 /);
    assert.ok(cut.sent < 64 * 1024 * 1024, 'the server closed before the whole body was sent');
  });
});
