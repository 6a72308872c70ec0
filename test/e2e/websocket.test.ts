/** WebSocket through a real gateway with the `ws` package on both ends: relay, refusals, limits, idle, reload, drain. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait-for.js';
import { startEchoUpstream, type EchoUpstream } from '../helpers/ws-echo-upstream.js';

/** Opens a client WebSocket and waits for the handshake. */
async function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers });
  await once(socket, 'open');
  return socket;
}

/** Sends `text` and waits for the echo. */
async function echo(socket: WebSocket, text: string): Promise<string> {
  socket.send(text);
  const [data] = (await once(socket, 'message')) as [Buffer];
  return data.toString();
}

/** A handshake the gateway (or upstream) refused: its status and body. */
async function refusal(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  const socket = new WebSocket(url, { headers });
  socket.on('error', () => undefined);
  const [, res] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode ?? 0, body, headers: res.headers };
}

function routesYaml(upstream: string, extra = ''): string {
  return `auth:
  issuers:
    - { issuer: edgeway, audience: api }
gateway:
  shutdownTimeout: 5s
services:
  chat: { instances: [${upstream}] }
routes:
  - { name: chat, match: { path: /chat }, service: chat, websocket: { idleTimeout: 10m, maxConnections: 2 } }
  - { name: secure, match: { path: /secure }, service: chat, websocket: true, auth: { required: true, scopes: [chat], queryToken: true } }
  - { name: idle, match: { path: /idle }, service: chat, websocket: { idleTimeout: 300ms } }
  - { name: plain, match: { path: /plain }, service: chat }
  - { name: limited, match: { path: /limited }, service: chat, websocket: true, rateLimit: { capacity: 1, refillPerSecond: 0.001 } }
${extra}`;
}

describe('WebSocket through the gateway', { timeout: 60_000 }, () => {
  let upstream: EchoUpstream;
  let gw: TestGateway;
  let ws: string;

  before(async () => {
    upstream = await startEchoUpstream();
    gw = await startGateway({ 'c.yaml': routesYaml(upstream.url) });
    ws = gw.url.replace('http:', 'ws:');
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  const token = async (scopes: string[]): Promise<string> => {
    const minted = await request(`${gw.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'chatter', scopes, ttl: '10m', aud: 'api' }),
    });
    return ((await minted.body.json()) as { token: string }).token;
  };
  const gauge = async (route: string): Promise<number> => {
    const metric = await gw.gateway.metricsRegistry
      .getSingleMetric('edgeway_websocket_connections')
      ?.get();
    return metric?.values.find((v) => v.labels.route === route)?.value ?? 0;
  };
  const lineOf = (requestId: string): Promise<Record<string, unknown>> =>
    waitFor(
      () => gw.accessLines.some((l) => l.includes(requestId)),
      5000,
      `the access-log line of ${requestId}`,
    ).then(
      () =>
        JSON.parse(gw.accessLines.find((l) => l.includes(requestId)) as string) as Record<
          string,
          unknown
        >,
    );

  test('frames are echoed through the gateway; the close writes one access-log line with bytes and who closed', async () => {
    const before = upstream.handshakes.length;
    const socket = await open(`${ws}/chat/room`, { 'x-request-id': 'ws-echo-1' });
    assert.equal(await echo(socket, 'hello'), 'hello');
    const seen = upstream.handshakes[before] as IncomingMessage;
    const hosts = seen.rawHeaders.filter(
      (_v, i) => i % 2 === 0 && seen.rawHeaders[i]?.toLowerCase() === 'host',
    );
    assert.equal(hosts.length, 1, 'one Host: the instance authority');
    assert.equal(seen.headers.host, new URL(upstream.url).host);
    assert.equal(seen.headers['x-request-id'], 'ws-echo-1');
    assert.equal(await echo(socket, 'x'.repeat(70_000)), 'x'.repeat(70_000));
    assert.equal(await gauge('chat'), 1);
    assert.equal(
      gw.accessLines.filter((l) => l.includes('ws-echo-1')).length,
      0,
      'no line before the close',
    );
    socket.close(1000, 'bye');
    await once(socket, 'close');
    const line = await lineOf('ws-echo-1');
    assert.equal(line.status, 101);
    // RFC 6455 7.1.1: after the closing handshake the server closes the TCP connection first.
    assert.equal(line.closedBy, 'upstream');
    assert.equal(line.route, 'chat');
    assert.ok(
      (line.bytesIn as number) > 70_000 && (line.bytesOut as number) > 70_000,
      JSON.stringify(line),
    );
    await waitFor(async () => (await gauge('chat')) === 0, 5000, 'the gauge back at 0');
  });

  test('the upgrade passes auth: 401 without a token, 403 without the scope, both as SPEC bodies', async () => {
    const missing = await refusal(`${ws}/secure`);
    assert.equal(missing.status, 401);
    assert.equal(
      (JSON.parse(missing.body) as { error: { code: string } }).error.code,
      'unauthorized',
    );
    const narrow = await refusal(`${ws}/secure`, {
      authorization: `Bearer ${await token(['other'])}`,
    });
    assert.equal(narrow.status, 403);
    assert.equal((JSON.parse(narrow.body) as { error: { code: string } }).error.code, 'forbidden');
  });

  test('a token in access_token passes auth and never reaches the upstream or the access log', async () => {
    const secret = await token(['chat']);
    const before = upstream.handshakes.length;
    const socket = await open(
      `${ws}/secure/x?room=1&access_token=${encodeURIComponent(secret)}&b=2`,
      { 'x-request-id': 'ws-query-1' },
    );
    assert.equal(await echo(socket, 'hi'), 'hi');
    const seen = upstream.handshakes[before] as IncomingMessage;
    assert.equal(seen.url, '/secure/x?room=1&b=2');
    assert.equal(seen.headers['x-edgeway-sub'], 'chatter');
    socket.close();
    const line = await lineOf('ws-query-1');
    assert.ok(!JSON.stringify(line).includes(secret));
    assert.ok(!gw.accessLines.some((l) => l.includes(secret)));
  });

  test('revoking the token closes its socket with 1008 between two frames of a streaming upstream', async () => {
    const minted = await request(`${gw.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'chatter', scopes: ['chat'], ttl: '10m', aud: 'api' }),
    });
    const { token: secret, jti } = (await minted.body.json()) as { token: string; jti: string };
    const before = upstream.sockets.length;
    const socket = await open(`${ws}/secure/stream`, {
      authorization: `Bearer ${secret}`,
      'x-request-id': 'ws-revoke-1',
    });
    const errors: Error[] = [];
    socket.on('error', (err) => errors.push(err));
    let messages = 0;
    socket.on('message', (data: Buffer) => {
      assert.equal(data.length, 50_000, 'every message arrives whole');
      messages++;
    });
    await waitFor(() => upstream.sockets.length > before, 5000, 'the upstream side');
    const server = upstream.sockets[before] as WebSocket;
    const flood = setInterval(
      () => server.readyState === WebSocket.OPEN && server.send(Buffer.alloc(50_000, 1)),
      1,
    );
    const serverClosed = once(server, 'close');
    try {
      await waitFor(() => messages > 5, 5000, 'messages flowing');
      const revoked = await request(`${gw.adminUrl}/admin/tokens/${jti}/revoke`, {
        method: 'POST',
      });
      assert.equal(revoked.statusCode < 300, true);
      await revoked.body.dump();
      const [code, reason] = (await once(socket, 'close')) as [number, Buffer];
      assert.equal(code, 1008);
      assert.equal(reason.toString(), 'token revoked');
      assert.deepEqual(errors, []);
    } finally {
      clearInterval(flood);
    }
    await serverClosed;
    assert.equal((await lineOf('ws-revoke-1')).closedBy, 'token_revoked');
  });

  test('a socket is closed with 1008 when the token it was opened with expires', async () => {
    const minted = await request(`${gw.adminUrl}/admin/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'chatter', scopes: ['chat'], ttl: '2s', aud: 'api' }),
    });
    const { token: secret } = (await minted.body.json()) as { token: string };
    const socket = await open(`${ws}/secure/short`, { authorization: `Bearer ${secret}` });
    assert.equal(await echo(socket, 'while valid'), 'while valid');
    const [code, reason] = (await once(socket, 'close')) as [number, Buffer];
    assert.equal(code, 1008);
    assert.equal(reason.toString(), 'token expired');
  });

  test('an upgrade on a route without websocket gets 400 bad_request', async () => {
    const res = await refusal(`${ws}/plain`);
    assert.equal(res.status, 400);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'bad_request');
  });

  test("another protocol's upgrade is forwarded as a plain request, and the connection closed after it", async () => {
    const req = httpRequest(`${gw.url}/plain`, {
      headers: { connection: 'Upgrade', upgrade: 'foo/1' },
    });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let body = '';
    for await (const chunk of res) body += String(chunk);
    assert.equal(res.statusCode, 200);
    assert.equal(body, 'plain');
    assert.equal(res.headers.connection, 'close');
  });

  test('an upgrade takes one rate-limit token; frames on the open socket take none', async () => {
    const socket = await open(`${ws}/limited`);
    for (let i = 0; i < 5; i++) assert.equal(await echo(socket, `m${i}`), `m${i}`);
    const refused = await refusal(`${ws}/limited`);
    assert.equal(refused.status, 429);
    socket.close();
    await once(socket, 'close');
  });

  test('beyond maxConnections open sockets on the route: 503 unavailable, and room again after a close', async () => {
    const first = await open(`${ws}/chat/a`);
    const second = await open(`${ws}/chat/b`);
    const full = await refusal(`${ws}/chat/c`);
    assert.equal(full.status, 503);
    assert.equal((JSON.parse(full.body) as { error: { code: string } }).error.code, 'unavailable');
    first.close();
    await once(first, 'close');
    await waitFor(async () => (await gauge('chat')) === 1, 5000, 'one socket left');
    const third = await open(`${ws}/chat/d`);
    assert.equal(await echo(third, 'room'), 'room');
    second.close();
    third.close();
    await waitFor(async () => (await gauge('chat')) === 0, 5000, 'no socket left');
  });

  test('an idle connection is closed on both sides', async () => {
    const before = upstream.sockets.length;
    const socket = await open(`${ws}/idle`, { 'x-request-id': 'ws-idle-1' });
    assert.equal(await echo(socket, 'once'), 'once');
    const server = upstream.sockets[before] as WebSocket;
    await Promise.all([once(socket, 'close'), once(server, 'close')]);
    assert.equal((await lineOf('ws-idle-1')).closedBy, 'idle_timeout');
  });

  test('a client that vanishes mid-stream closes the upstream side and the gateway keeps serving', async () => {
    const before = upstream.sockets.length;
    const socket = await open(`${ws}/chat/gone`, { 'x-request-id': 'ws-gone-1' });
    socket.send('y'.repeat(200_000));
    socket.terminate();
    await waitFor(() => upstream.sockets.length > before, 5000, 'the upstream side');
    const server = upstream.sockets[before] as WebSocket;
    if (server.readyState !== WebSocket.CLOSED) await once(server, 'close');
    assert.equal((await lineOf('ws-gone-1')).closedBy, 'client');
    const next = await open(`${ws}/chat/next`);
    assert.equal(await echo(next, 'still here'), 'still here');
    next.close();
    await waitFor(async () => (await gauge('chat')) === 0, 5000, 'no socket left');
  });
});

describe('WebSocket connections across reload and shutdown', { timeout: 60_000 }, () => {
  test('least-request counts open sockets: six upgrades spread three and three over two instances', async () => {
    const [a, b] = [await startEchoUpstream(), await startEchoUpstream()];
    const gw = await startGateway({
      'c.yaml': `services:\n  chat: { instances: [${a.url}, ${b.url}], loadBalancer: { policy: least-request } }\nroutes:\n  - { name: chat, match: { path: /chat }, service: chat, websocket: true }\n`,
    });
    try {
      const sockets: WebSocket[] = [];
      for (let i = 0; i < 6; i++)
        sockets.push(await open(`${gw.url.replace('http:', 'ws:')}/chat/${i}`));
      assert.deepEqual([a.sockets.length, b.sockets.length], [3, 3]);
      for (const socket of sockets) socket.close();
      await Promise.all(
        sockets.map((socket) => socket.readyState === WebSocket.CLOSED || once(socket, 'close')),
      );
    } finally {
      await gw.stop();
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a reload that removes the route keeps the open socket on its instance', async () => {
    const upstream = await startEchoUpstream();
    const gw = await startGateway({ 'c.yaml': routesYaml(upstream.url) });
    try {
      const socket = await open(`${gw.url.replace('http:', 'ws:')}/chat`);
      assert.equal(await echo(socket, 'before'), 'before');
      gw.write(
        'c.yaml',
        `services:\n  other: { instances: ["http://127.0.0.1:9"] }\nroutes:\n  - { name: other, match: { path: /other }, service: other }\n`,
      );
      assert.deepEqual(await gw.gateway.reload(), { ok: true });
      assert.equal(await echo(socket, 'after'), 'after');
      socket.close();
      await once(socket, 'close');
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });

  test('stop refuses new upgrades, waits for open sockets, and closes the rest at shutdownTimeout', async () => {
    const upstream = await startEchoUpstream();
    const gw = await startGateway({
      'c.yaml': routesYaml(upstream.url).replace('shutdownTimeout: 5s', 'shutdownTimeout: 1s'),
    });
    const ws = gw.url.replace('http:', 'ws:');
    try {
      const polite = await open(`${ws}/chat/polite`);
      const stubborn = await open(`${ws}/chat/stubborn`, { 'x-request-id': 'ws-stubborn-1' });
      const stopped = gw.gateway.stop();
      const late = new WebSocket(`${ws}/chat/late`);
      const [lateError] = (await once(late, 'error')) as [Error];
      assert.match(lateError.message, /ECONNREFUSED|socket hang up|Unexpected server response/);
      assert.equal(await echo(polite, 'still open while draining'), 'still open while draining');
      polite.close();
      await once(polite, 'close');
      const [code] = (await once(stubborn, 'close')) as [number];
      assert.equal(code, 1006, 'the connection was cut after the drain deadline');
      await stopped;
      const line = JSON.parse(
        gw.accessLines.find((l) => l.includes('ws-stubborn-1')) as string,
      ) as Record<string, unknown>;
      assert.equal(line.closedBy, 'shutdown');
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});

describe('WebSocket clients that vanish', { timeout: 60_000 }, () => {
  test('a client gone while the upstream handshake is pending: the upstream socket is closed, the gateway keeps serving', async () => {
    const held: { socket?: Socket; answer?: () => void } = {};
    const server = createServer((_req, res) => res.end('plain'));
    const arrived = new Promise<void>((resolve) => {
      server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
        held.socket = socket;
        held.answer = () =>
          socket.write(
            'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n',
          );
        resolve();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const upstreamUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const gw = await startGateway({
      'c.yaml': `services:\n  chat: { instances: [${upstreamUrl}] }\nroutes:\n  - { name: chat, match: { path: /chat }, service: chat, websocket: true }\n`,
    });
    try {
      const client = connect(gw.gateway.port, '127.0.0.1');
      await once(client, 'connect');
      client.write(
        'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      await arrived;
      client.resetAndDestroy();
      await once(client, 'close');
      const upstreamClosed = once(held.socket as Socket, 'end');
      held.answer?.();
      await upstreamClosed;
      const res = await request(`${gw.url}/chat`);
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'plain');
    } finally {
      await gw.stop();
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('WebSocket telemetry', { timeout: 60_000 }, () => {
  test('the handshake has a SERVER span ending with 101 while the socket stays open', async () => {
    const upstream = await startEchoUpstream();
    const exporter = new InMemorySpanExporter();
    const gw = await startGateway(
      { 'c.yaml': routesYaml(upstream.url) },
      { tracing: { spanExporter: exporter } },
    );
    try {
      const socket = await open(`${gw.url.replace('http:', 'ws:')}/chat/traced`);
      assert.equal(await echo(socket, 'traced'), 'traced');
      await waitFor(
        () => exporter.getFinishedSpans().some((s) => s.kind === 1),
        5000,
        'the SERVER span',
      );
      const server = exporter.getFinishedSpans().find((s) => s.kind === 1 /* SERVER */);
      assert.equal(server?.name, 'GET chat');
      assert.equal(server?.attributes['http.response.status_code'], 101);
      assert.equal(socket.readyState, WebSocket.OPEN);
      socket.close();
      await once(socket, 'close');
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});
