/**
 * WebSocket over HTTP/2 (RFC 8441) through a real gateway: node:http2 extended CONNECT on h2c framed by `ws`'s
 * Sender and Receiver, a `ws` server upstream; and Chromium against the TLS listener.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { constants, type ClientHttp2Session } from 'node:http2';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import type { WebSocket as UpstreamSocket } from 'ws';
import { createCa, type TestCa } from '../helpers/certs.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import {
  connectProtocolEnabled,
  openedH2WebSocket,
  refusedH2WebSocket,
} from '../helpers/h2-websocket.js';
import { waitFor } from '../helpers/wait-for.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/ws-echo-upstream.js';
import { CHROMIUM, launchChromium } from '../helpers/chromium.js';

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
  - { name: blocked, match: { path: /blocked }, service: chat, websocket: true, ipDeny: [127.0.0.0/8] }
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
      (upstream.sockets[before] as UpstreamSocket).send('from upstream');
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
      // Frame bytes each way after the handshake: 200 kB and a few small messages.
      for (const bytes of [line.bytesIn, line.bytesOut] as number[])
        assert.ok(bytes > 200_000 && bytes < 201_000, JSON.stringify(line));
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

    test('IP rules and the origin check refuse an extended CONNECT with 403', async () => {
      const denied = await refusedH2WebSocket(session, '/blocked');
      assert.equal(denied.status, 403);
      assert.equal(errorCode(denied.body), 'forbidden');
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
      (upstream.sockets[before] as UpstreamSocket).terminate();
      await ended;
      assert.equal((await lineOf('h2ws-upclose')).closedBy, 'upstream');
      await waitFor(async () => (await gauge('chat')) === 0, 5000, 'the gauge back at 0');
    });

    test('a client RST_STREAM closes the upstream socket; the session keeps serving', async () => {
      const before = upstream.sockets.length;
      const socket = await openedH2WebSocket(session, '/chat/rst', { 'x-request-id': 'h2ws-rst' });
      assert.equal(await socket.echo('x'), 'x');
      const server = upstream.sockets[before] as UpstreamSocket;
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

/**
 * An upstream that, once upgraded, writes binary frames of 64 kB as fast as its socket takes them, up to
 * `total` bytes, and counts the bytes its socket flushed (write callbacks).
 */
async function startFloodUpstream(total: number): Promise<{
  url: string;
  flushed: () => number;
  closed: Promise<void>;
  close: () => Promise<void>;
}> {
  let flushed = 0;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const server = createServer((_req, res) => res.end('plain'));
  const payload = Buffer.alloc(65_536, 1);
  const header = Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
  const frame = Buffer.concat([header, payload]);
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.on('error', () => undefined);
    socket.once('close', markClosed);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    let sent = 0;
    const pump = (): void => {
      while (sent < total && !socket.destroyed) {
        sent += frame.length;
        const more = socket.write(frame, () => (flushed += frame.length));
        if (!more) return void socket.once('drain', pump);
      }
    };
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    flushed: () => flushed,
    closed,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('WebSocket over HTTP/2: flow control, reload and shutdown', { timeout: 60_000 }, () => {
  test('a client that resets its stream while the upstream handshake is pending: the upstream socket is closed without waiting for the answer', async () => {
    const server = createServer((_req, res) => res.end('plain'));
    const arrived = new Promise<Socket>((resolve) => {
      server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
        socket.on('error', () => undefined);
        resolve(socket);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const upstreamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const gw = await startGateway({
      'c.yaml': `gateway:\n  h2c: true\nservices:\n  chat: { instances: [${upstreamUrl}] }\nroutes:\n  - { name: chat, match: { path: /chat }, service: chat, websocket: true }\n`,
    });
    const session = await h2Connect(gw.url);
    try {
      await connectProtocolEnabled(session);
      const stream = session.request({
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': 'http',
        ':path': '/chat',
        'sec-websocket-version': '13',
      });
      stream.on('error', () => undefined);
      const held = await arrived;
      const upstreamClosed = once(held, 'end');
      stream.close(constants.NGHTTP2_CANCEL);
      await once(stream, 'close');
      await upstreamClosed;
      const answer = await h2Request(session, { ':method': 'GET', ':path': '/chat' });
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'plain');
    } finally {
      session.destroy();
      await gw.stop();
      server.closeAllConnections();
      server.close();
    }
  });

  test("the instance's refusal of the handshake reaches the client as an HTTP/2 response", async () => {
    const server = createServer((_req, res) => res.end('plain'));
    server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
      socket.end(
        'HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope',
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const upstreamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const gw = await startGateway({
      'c.yaml': `gateway:\n  h2c: true\nservices:\n  chat: { instances: [${upstreamUrl}] }\nroutes:\n  - { name: chat, match: { path: /chat }, service: chat, websocket: true }\n`,
    });
    const session = await h2Connect(gw.url);
    try {
      const refused = await refusedH2WebSocket(session, '/chat');
      assert.equal(refused.status, 403);
      assert.equal(refused.body, 'nope');
      assert.equal(refused.headers['content-type'], 'text/plain');
      assert.equal(refused.headers.connection, undefined);
    } finally {
      session.destroy();
      await gw.stop();
      server.closeAllConnections();
      server.close();
    }
  });

  test('a client that stops reading holds the upstream back: the gateway buffers a bounded amount', async () => {
    const total = 96 * 1024 * 1024;
    const flood = await startFloodUpstream(total);
    const gw = await startGateway({
      'c.yaml': `gateway:\n  h2c: true\nservices:\n  feed: { instances: [${flood.url}] }\nroutes:\n  - { name: feed, match: { path: /feed }, service: feed, websocket: true }\n`,
    });
    const session = await h2Connect(gw.url);
    try {
      const socket = await openedH2WebSocket(session, '/feed');
      // The client's stream window (64 kB by default) is not given back while the stream is paused.
      socket.stream.pause();
      let last = -1;
      let stableSince = Date.now();
      await waitFor(
        () => {
          const now = flood.flushed();
          if (now !== last) {
            last = now;
            stableSince = Date.now();
          }
          return now > 0 && Date.now() - stableSince > 1500;
        },
        30_000,
        'the upstream to stall',
      );
      // Loopback socket buffers take a few MB each; without backpressure the gateway would take all 96 MB.
      assert.ok(
        flood.flushed() < 32 * 1024 * 1024,
        `the upstream flushed ${flood.flushed()} bytes to a client that reads nothing`,
      );
      socket.stream.close(constants.NGHTTP2_CANCEL);
      await flood.closed;
    } finally {
      session.destroy();
      await gw.stop();
      await flood.close();
    }
  });

  test('the extended CONNECT has a SERVER span (HTTP/2) ending with 101 while the stream stays open', async () => {
    const upstream = await startEchoUpstream();
    const exporter = new InMemorySpanExporter();
    const gw = await startGateway(
      { 'c.yaml': routesYaml(upstream.url) },
      { tracing: { spanExporter: exporter } },
    );
    const session = await h2Connect(gw.url);
    try {
      const socket = await openedH2WebSocket(session, '/chat/traced');
      assert.equal(await socket.echo('traced'), 'traced');
      await waitFor(
        () => exporter.getFinishedSpans().some((s) => s.kind === 1),
        5000,
        'the SERVER span',
      );
      const server = exporter.getFinishedSpans().find((s) => s.kind === 1 /* SERVER */);
      assert.equal(server?.name, 'CONNECT chat');
      assert.equal(server?.attributes['http.response.status_code'], 101);
      assert.equal(server?.attributes['network.protocol.version'], '2');
      assert.equal(await socket.echo('still open'), 'still open');
      socket.close();
      await once(socket.stream, 'close');
    } finally {
      session.destroy();
      await gw.stop();
      await upstream.close();
    }
  });

  test('a reload that removes the route keeps the open HTTP/2 socket on its instance', async () => {
    const upstream = await startEchoUpstream();
    const gw = await startGateway({ 'c.yaml': routesYaml(upstream.url) });
    const session = await h2Connect(gw.url);
    try {
      const socket = await openedH2WebSocket(session, '/chat');
      assert.equal(await socket.echo('before'), 'before');
      gw.write(
        'c.yaml',
        `gateway:\n  h2c: true\nservices:\n  other: { instances: ["http://127.0.0.1:9"] }\nroutes:\n  - { name: other, match: { path: /other }, service: other }\n`,
      );
      assert.deepEqual(await gw.gateway.reload(), { ok: true });
      assert.equal(await socket.echo('after'), 'after');
      socket.close();
      await once(socket.stream, 'close');
    } finally {
      session.destroy();
      await gw.stop();
      await upstream.close();
    }
  });

  test('stop lets an open HTTP/2 socket work while draining, then closes it at shutdownTimeout', async () => {
    const upstream = await startEchoUpstream();
    const gw = await startGateway({
      'c.yaml': routesYaml(upstream.url).replace('shutdownTimeout: 5s', 'shutdownTimeout: 1s'),
    });
    const session = await h2Connect(gw.url);
    try {
      const socket = await openedH2WebSocket(session, '/chat/stubborn', {
        'x-request-id': 'h2ws-stubborn',
      });
      const ended = once(socket.stream, 'close');
      const started = Date.now();
      const stopped = gw.gateway.stop();
      assert.equal(await socket.echo('while draining'), 'while draining');
      await ended;
      assert.ok(Date.now() - started >= 900, 'closed at the drain deadline, not before');
      await stopped;
      const line = JSON.parse(
        gw.accessLines.find((l) => l.includes('h2ws-stubborn')) as string,
      ) as Record<string, unknown>;
      assert.equal(line.closedBy, 'shutdown');
    } finally {
      session.destroy();
      await gw.stop();
      await upstream.close();
    }
  });
});

describe(
  'WebSocket over HTTP/2 in Chromium against the TLS listener',
  {
    timeout: 90_000,
    skip: existsSync(CHROMIUM)
      ? false
      : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run this test`,
  },
  () => {
    let ca: TestCa;
    let upstream: EchoUpstream;
    let gw: TestGateway;
    let origin: string;

    before(async () => {
      ca = createCa();
      const leaf = ca.issue('gateway.test', { dns: ['gateway.test'], ip: ['127.0.0.1'] });
      upstream = await startEchoUpstream();
      gw = await startGateway({
        'c.yaml': `gateway:
  tls: { cert: ${leaf.certPath}, key: ${leaf.keyPath} }
services:
  chat: { instances: [${upstream.url}] }
routes:
  - { name: chat, match: { path: /chat }, service: chat, websocket: true }
  - { name: page, match: { path: /page }, service: chat }
`,
      });
      origin = `https://127.0.0.1:${gw.gateway.port}`;
    });
    after(async () => {
      await gw.stop();
      await upstream.close();
      ca.cleanup();
    });

    test('a page on an h2 connection opens its WebSocket with extended CONNECT on that connection', async () => {
      const browser = await launchChromium([
        // The test CA is not in the browser's store; the certificate is not what is under test.
        '--ignore-certificate-errors',
      ]);
      try {
        const page = await browser.newPage();
        const loaded = await page.goto(`${origin}/page`);
        assert.equal(loaded?.status(), 200);
        const before = upstream.sockets.length;
        // The page sends one message and gets its echo; then the upstream pushes one and closes.
        const outcome = page.evaluate(
          (url) =>
            new Promise<{ messages: string[]; code: number; reason: string }>((resolve) => {
              const messages: string[] = [];
              (globalThis as { received?: string[] }).received = messages;
              const socket = new WebSocket(url);
              socket.onopen = () => socket.send('hello from chromium');
              socket.onmessage = (event) => messages.push(String(event.data));
              socket.onclose = (event) =>
                resolve({ messages, code: event.code, reason: event.reason });
            }),
          `${origin.replace('https:', 'wss:')}/chat/browser`,
        );
        await page.waitForFunction(
          () => (globalThis as { received?: string[] }).received?.length === 1,
        );
        const server = upstream.sockets[before] as UpstreamSocket;
        server.send('pushed by the upstream');
        server.close(4001, 'done here');
        const { messages, code, reason } = await outcome;
        assert.deepEqual(messages, ['hello from chromium', 'pushed by the upstream']);
        assert.equal(code, 4001);
        assert.equal(reason, 'done here');
        const line = await waitFor(
          () => gw.accessLines.some((l) => l.includes('"/chat/browser"')),
          5000,
          'the access-log line of the browser socket',
        ).then(
          () =>
            JSON.parse(gw.accessLines.find((l) => l.includes('"/chat/browser"')) as string) as {
              method: string;
              status: number;
              closedBy: string;
            },
        );
        // Over HTTP/1.1 the handshake would be a GET: CONNECT proves the browser used RFC 8441.
        assert.equal(line.method, 'CONNECT');
        assert.equal(line.status, 101);
        // The browser answers the Close frame and ends its stream, racing the upstream's FIN.
        assert.ok(['client', 'upstream'].includes(line.closedBy), line.closedBy);
      } finally {
        await browser.close();
      }
    });
  },
);
