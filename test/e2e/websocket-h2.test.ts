/**
 * WebSocket over HTTP/2 (RFC 8441) through a real gateway: node:http2 extended CONNECT on h2c framed by `ws`'s
 * Sender and Receiver, a `ws` server upstream; and Chromium against the TLS listener.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants, type ClientHttp2Session } from 'node:http2';
import type { IncomingMessage } from 'node:http';
import { request } from 'undici';
import type WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import {
  connectProtocolEnabled,
  openedH2WebSocket,
  refusedH2WebSocket,
} from '../helpers/h2-websocket.js';
import { waitFor } from '../helpers/wait-for.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/ws-echo-upstream.js';

function routesYaml(upstream: string): string {
  return `auth:
  issuers:
    - { issuer: edgeway, audience: api }
gateway:
  h2c: true
  shutdownTimeout: 5s
services:
  chat: { instances: [${upstream}] }
routes:
  - { name: chat, match: { path: /chat, methods: [GET] }, service: chat, websocket: { idleTimeout: 10m, maxConnections: 2 } }
  - { name: secure, match: { path: /secure }, service: chat, websocket: true, auth: { required: true, scopes: [chat], queryToken: true } }
  - { name: plain, match: { path: /plain }, service: chat }
  - { name: limited, match: { path: /limited }, service: chat, websocket: true, rateLimit: { capacity: 1, refillPerSecond: 0.001 } }
  - { name: site, match: { path: /site }, service: chat, websocket: true, cors: { origins: ["https://app.example"] } }
`;
}

function errorCode(body: string): string {
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

describe(
  'WebSocket over HTTP/2 (extended CONNECT) through the gateway',
  { timeout: 60_000 },
  () => {
    let upstream: EchoUpstream;
    let gw: TestGateway;
    let session: ClientHttp2Session;

    before(async () => {
      upstream = await startEchoUpstream();
      gw = await startGateway({ 'c.yaml': routesYaml(upstream.url) });
      session = await h2Connect(gw.url);
    });
    after(async () => {
      session.destroy();
      await gw.stop();
      await upstream.close();
    });

    const token = async (
      scopes: string[],
      ttl = '10m',
    ): Promise<{ token: string; jti: string }> => {
      const minted = await request(`${gw.adminUrl}/admin/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sub: 'chatter', scopes, ttl, aud: 'api' }),
      });
      return (await minted.body.json()) as { token: string; jti: string };
    };
    const gauge = async (route: string): Promise<number> => {
      const metric = await gw.gateway.metricsRegistry
        .getSingleMetric('edgeway_websocket_connections')
        ?.get();
      return metric?.values.find((v) => v.labels.route === route)?.value ?? 0;
    };
    const lineOf = async (requestId: string): Promise<Record<string, unknown>> => {
      await waitFor(
        () => gw.accessLines.some((l) => l.includes(requestId)),
        5000,
        `the access-log line of ${requestId}`,
      );
      return JSON.parse(gw.accessLines.find((l) => l.includes(requestId)) as string) as Record<
        string,
        unknown
      >;
    };

    test('the gateway advertises SETTINGS_ENABLE_CONNECT_PROTOCOL on h2c', async () => {
      assert.equal(await connectProtocolEnabled(session), true);
    });

    test('frames are echoed both ways over the stream; the gauge counts the socket; one access-log line at the close', async () => {
      const before = upstream.handshakes.length;
      const socket = await openedH2WebSocket(session, '/chat/room?x=1', {
        'x-request-id': 'h2ws-echo-1',
      });
      assert.equal(socket.headers[':status'], 200);
      assert.equal(socket.headers['x-request-id'], 'h2ws-echo-1');
      assert.equal(socket.headers['sec-websocket-accept'], undefined, 'RFC 8441 5: no key proof');
      assert.equal(await socket.echo('hello'), 'hello');
      const big = Buffer.alloc(200_000, 7);
      socket.send(big);
      assert.ok(big.equals(await socket.next()), 'a 200 kB binary message comes back whole');
      // The upstream speaks RFC 6455 over HTTP/1.1: it got a key of its own and no pseudo-header.
      const seen = upstream.handshakes[before] as IncomingMessage;
      assert.equal(seen.url, '/chat/room?x=1');
      assert.equal(seen.method, 'GET');
      assert.match(seen.headers['sec-websocket-key'] ?? '', /^[A-Za-z0-9+/]{22}==$/);
      assert.equal(seen.headers['sec-websocket-version'], '13');
      assert.equal(seen.headers['x-request-id'], 'h2ws-echo-1');
      assert.deepEqual(
        Object.keys(seen.headers).filter((name) => name.startsWith(':')),
        [],
      );
      // The upstream socket can push on its own too.
      (upstream.sockets[before] as WebSocket).send('from upstream');
      assert.equal((await socket.next()).toString(), 'from upstream');
      assert.equal(await gauge('chat'), 1);
      assert.equal(gw.accessLines.filter((l) => l.includes('h2ws-echo-1')).length, 0);
      const ended = once(socket.stream, 'close');
      socket.close(1000, 'bye');
      assert.deepEqual(await socket.closeFrame, { code: 1000, reason: 'bye' });
      await ended;
      const line = await lineOf('h2ws-echo-1');
      assert.equal(line.status, 101);
      assert.equal(line.method, 'CONNECT');
      assert.equal(line.route, 'chat');
      assert.ok(['client', 'upstream'].includes(line.closedBy as string), JSON.stringify(line));
      await waitFor(async () => (await gauge('chat')) === 0, 5000, 'the gauge back at 0');
    });

    test('auth refusals are HTTP/2 responses with SPEC bodies: 401 without a token, 403 without the scope', async () => {
      const missing = await refusedH2WebSocket(session, '/secure');
      assert.equal(missing.status, 401);
      assert.equal(errorCode(missing.body), 'unauthorized');
      assert.ok(missing.headers['x-request-id']);
      const narrow = await refusedH2WebSocket(session, '/secure', {
        authorization: `Bearer ${(await token(['other'])).token}`,
      });
      assert.equal(narrow.status, 403);
      assert.equal(errorCode(narrow.body), 'forbidden');
    });

    test('access_token passes auth over HTTP/2 and is removed before the upstream', async () => {
      const { token: secret } = await token(['chat']);
      const before = upstream.handshakes.length;
      const socket = await openedH2WebSocket(
        session,
        `/secure/x?room=1&access_token=${encodeURIComponent(secret)}`,
      );
      assert.equal(await socket.echo('hi'), 'hi');
      const seen = upstream.handshakes[before] as IncomingMessage;
      assert.equal(seen.url, '/secure/x?room=1');
      assert.equal(seen.headers['x-edgeway-sub'], 'chatter');
      socket.close();
      await once(socket.stream, 'close');
    });

    test('revoking the token closes the HTTP/2 socket with a 1008 Close frame', async () => {
      const { token: secret, jti } = await token(['chat']);
      const socket = await openedH2WebSocket(session, '/secure/revoke', {
        authorization: `Bearer ${secret}`,
      });
      assert.equal(await socket.echo('before'), 'before');
      const revoked = await request(`${gw.adminUrl}/admin/tokens/${jti}/revoke`, {
        method: 'POST',
      });
      assert.ok(revoked.statusCode < 300);
      await revoked.body.dump();
      assert.deepEqual(await socket.closeFrame, { code: 1008, reason: 'token revoked' });
      await once(socket.stream, 'close');
    });

    test('refusals: a route without websocket 400, plain CONNECT 405, another :protocol 400', async () => {
      const plain = await refusedH2WebSocket(session, '/plain');
      assert.equal(plain.status, 400);
      assert.equal(errorCode(plain.body), 'bad_request');
      const connect = await h2Request(session, {
        ':method': 'CONNECT',
        ':authority': 'upstream.example:443',
      });
      assert.equal(connect.status, 405);
      assert.equal(errorCode(connect.body), 'method_not_allowed');
      const other = await refusedH2WebSocket(session, '/plain', { ':protocol': 'connect-udp' });
      assert.equal(other.status, 400);
      assert.equal(errorCode(other.body), 'bad_request');
    });

    test('an origin the route does not allow gets 403 for its extended CONNECT', async () => {
      const refused = await refusedH2WebSocket(session, '/site', {
        origin: 'https://evil.example',
      });
      assert.equal(refused.status, 403);
      const socket = await openedH2WebSocket(session, '/site', { origin: 'https://app.example' });
      assert.equal(await socket.echo('ok'), 'ok');
      socket.close();
      await once(socket.stream, 'close');
    });

    test('one rate-limit token per upgrade: the second extended CONNECT gets 429', async () => {
      const first = await openedH2WebSocket(session, '/limited');
      for (let i = 0; i < 3; i++) assert.equal(await first.echo(`m${i}`), `m${i}`);
      const second = await refusedH2WebSocket(session, '/limited');
      assert.equal(second.status, 429);
      assert.equal(errorCode(second.body), 'rate_limited');
      first.close();
      await once(first.stream, 'close');
    });

    test('beyond maxConnections the extended CONNECT gets 503 unavailable', async () => {
      await waitFor(async () => (await gauge('chat')) === 0, 5000, 'no socket left on chat');
      const a = await openedH2WebSocket(session, '/chat/a');
      const b = await openedH2WebSocket(session, '/chat/b');
      assert.equal(await gauge('chat'), 2);
      const third = await refusedH2WebSocket(session, '/chat/c');
      assert.equal(third.status, 503);
      assert.equal(errorCode(third.body), 'unavailable');
      for (const socket of [a, b]) {
        socket.close();
        await once(socket.stream, 'close');
      }
      await waitFor(async () => (await gauge('chat')) === 0, 5000, 'the gauge back at 0');
    });

    test('the upstream closing its socket ends the client stream', async () => {
      const before = upstream.sockets.length;
      const socket = await openedH2WebSocket(session, '/chat/upclose', {
        'x-request-id': 'h2ws-upclose',
      });
      assert.equal(await socket.echo('x'), 'x');
      const ended = once(socket.stream, 'close');
      (upstream.sockets[before] as WebSocket).terminate();
      await ended;
      assert.equal((await lineOf('h2ws-upclose')).closedBy, 'upstream');
      await waitFor(async () => (await gauge('chat')) === 0, 5000, 'the gauge back at 0');
    });

    test('a client RST_STREAM closes the upstream socket; the session keeps serving', async () => {
      const before = upstream.sockets.length;
      const socket = await openedH2WebSocket(session, '/chat/rst', { 'x-request-id': 'h2ws-rst' });
      assert.equal(await socket.echo('x'), 'x');
      const server = upstream.sockets[before] as WebSocket;
      const serverClosed = once(server, 'close');
      socket.stream.close(constants.NGHTTP2_CANCEL);
      await serverClosed;
      assert.equal((await lineOf('h2ws-rst')).closedBy, 'client');
      await waitFor(async () => (await gauge('chat')) === 0, 5000, 'the gauge back at 0');
      const again = await openedH2WebSocket(session, '/chat/after');
      assert.equal(await again.echo('still here'), 'still here');
      again.close();
      await once(again.stream, 'close');
    });
  },
);
