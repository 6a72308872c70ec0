/** classifyUpstreamError on errors real undici pools throw: whose failure was it? */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { classifyUpstreamError } from '../../src/proxy/upstream-errors.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('the request did not fail');
}

describe('classifyUpstreamError', () => {
  let upstream: Upstream;
  let pool: Pool;

  before(async () => {
    upstream = await startUpstream();
    pool = new Pool(upstream.url);
  });
  after(async () => {
    await pool.close();
    await upstream.close();
  });

  test('a header value past Latin-1 is refused by undici before sending: gateway-error, and the instance saw nothing', async () => {
    const err = await rejection(
      pool.request({ path: '/', method: 'GET', headers: ['x-edgeway-sub', '山田'] }),
    );
    assert.equal(classifyUpstreamError(err), 'gateway-error');
    assert.equal(upstream.seen.length, 0);
  });

  test('a pool edgeway closed: gateway-error', async () => {
    const closed = new Pool(upstream.url);
    await closed.close();
    assert.equal(
      classifyUpstreamError(await rejection(closed.request({ path: '/', method: 'GET' }))),
      'gateway-error',
    );
  });

  test('nothing listening: connect-failure', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    server.close();
    await once(server, 'close');
    const refused = new Pool(`http://127.0.0.1:${port}`);
    try {
      assert.equal(
        classifyUpstreamError(await rejection(refused.request({ path: '/', method: 'GET' }))),
        'connect-failure',
      );
    } finally {
      await refused.destroy();
    }
  });

  test('an instance that hangs up without answering: reset', async () => {
    const server = createServer((socket) => socket.destroy()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const rude = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      assert.equal(
        classifyUpstreamError(await rejection(rude.request({ path: '/', method: 'GET' }))),
        'reset',
      );
    } finally {
      await rude.destroy();
      server.close();
    }
  });

  test('an answer that is not HTTP: invalid-response', async () => {
    const server = createServer((socket) => socket.end('SSH-2.0-OpenSSH\r\n\r\n')).listen(
      0,
      '127.0.0.1',
    );
    await once(server, 'listening');
    const odd = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      assert.equal(
        classifyUpstreamError(await rejection(odd.request({ path: '/', method: 'GET' }))),
        'invalid-response',
      );
    } finally {
      await odd.destroy();
      server.close();
    }
  });

  test('an abort: client-aborted; an error without a code came from edgeway: gateway-error', async () => {
    const controller = new AbortController();
    controller.abort();
    assert.equal(
      classifyUpstreamError(
        await rejection(pool.request({ path: '/', method: 'GET', signal: controller.signal })),
      ),
      'client-aborted',
    );
    assert.equal(classifyUpstreamError(new TypeError('a bug in edgeway')), 'gateway-error');
  });
});
