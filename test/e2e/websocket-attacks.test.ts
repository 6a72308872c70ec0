/**
 * WebSocket over HTTP/1.1 under attack, each attack while another client keeps getting 200s: instances that
 * answer the handshake wrongly (a `101` without the key's proof, bytes before the `101`), a client without a key
 * or with a huge handshake, and upgrades racing for the last of `maxConnections`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import {
  connect,
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
} from 'node:net';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startVictim, type Victim } from '../helpers/victim.js';
import { waitFor } from '../helpers/wait-for.js';
import {
  startEchoUpstream,
  startHandshakeLiar,
  type EchoUpstream,
  type HandshakeLiar,
} from '../helpers/ws-echo-upstream.js';

/** A TCP instance that answers the handshake's first bytes with `before` and then a `101`. */
async function startEarlyTalker(before: string): Promise<{ url: string; server: TcpServer }> {
  const server = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () =>
      socket.write(
        `${before}HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
      ),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** How a `ws` client's handshake ended: `open`, or the status it was refused with. */
async function handshake(url: string, headers: Record<string, string> = {}): Promise<string> {
  const socket = new WebSocket(url, { headers });
  socket.on('error', () => undefined);
  const outcome = await Promise.race([
    once(socket, 'open').then(() => 'open'),
    once(socket, 'unexpected-response').then(
      ([, res]) => `status ${(res as IncomingMessage).statusCode}`,
    ),
    once(socket, 'close').then(() => 'closed'),
  ]);
  socket.terminate();
  return outcome;
}

const RIGHT_FORM =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';

describe('WebSocket over HTTP/1.1 under attack', { timeout: 60_000 }, () => {
  let wrongProof: HandshakeLiar;
  let noProof: HandshakeLiar;
  let garbageFirst: Awaited<ReturnType<typeof startEarlyTalker>>;
  let echo: EchoUpstream;
  let plain: Upstream;
  let gw: TestGateway;
  let victim: Victim;

  before(async () => {
    wrongProof = await startHandshakeLiar(
      `${RIGHT_FORM}Sec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    noProof = await startHandshakeLiar(`${RIGHT_FORM}\r\n`);
    garbageFirst = await startEarlyTalker('garbage\r\n');
    echo = await startEchoUpstream();
    plain = await startUpstream();
    gw = await startGateway({
      'c.yaml': `services:
  wrong: { instances: [${wrongProof.url}] }
  none: { instances: [${noProof.url}] }
  garbage: { instances: [${garbageFirst.url}] }
  chat: { instances: [${echo.url}] }
  plain: { instances: [${plain.url}] }
routes:
  - { name: wrong, match: { path: /wrong }, service: wrong, websocket: true }
  - { name: none, match: { path: /none }, service: none, websocket: true }
  - { name: garbage, match: { path: /garbage }, service: garbage, websocket: true }
  - { name: chat, match: { path: /chat }, service: chat, websocket: { maxConnections: 3 } }
  - { name: plain, match: { path: /plain }, service: plain }
`,
    });
    victim = startVictim(async () => (await fetch(`${gw.url}/plain/v`)).status);
  });

  after(async () => {
    await victim.stop();
    await gw.stop();
    await Promise.all([wrongProof.close(), noProof.close(), echo.close(), plain.close()]);
    garbageFirst.server.close();
  });

  const ws = (path: string): string => `${gw.url.replace('http:', 'ws:')}${path}`;

  for (const [name, path, liar] of [
    ['a wrong Sec-WebSocket-Accept', '/wrong', () => wrongProof],
    ['no Sec-WebSocket-Accept', '/none', () => noProof],
  ] as const) {
    test(`an instance whose 101 carries ${name} gets the client a 502, not a socket, and its connection closed`, async () => {
      assert.equal(await handshake(ws(path)), 'status 502');
      await waitFor(() => liar().closed() === 1, 3000, "the instance's connection to close");
    });
  }

  test('an instance that sends bytes before its 101 gets the client a 502', async () => {
    assert.equal(await handshake(ws('/garbage')), 'status 502');
  });

  test('a handshake without Sec-WebSocket-Key is refused with 400 before any instance is asked', async () => {
    const before = echo.handshakes.length;
    const socket = connect(gw.gateway.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.write(
      'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await once(socket, 'close');
    const answer = Buffer.concat(chunks).toString();
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /needs \\"Sec-WebSocket-Key\\"/, 'the gateway refused it');
    assert.equal(echo.handshakes.length, before);
  });

  test('a handshake header past the header limit is refused with 431', async () => {
    assert.equal(await handshake(ws('/chat'), { 'x-big': 'a'.repeat(20_000) }), 'status 431');
  });

  test('twenty upgrades racing for maxConnections 3: three open, the rest get 503, and closing frees the slots', async () => {
    const sockets = Array.from({ length: 20 }, () => new WebSocket(ws('/chat')));
    const outcomes = await Promise.all(
      sockets.map(async (socket) => {
        socket.on('error', () => undefined);
        return Promise.race([
          once(socket, 'open').then(() => 'open'),
          once(socket, 'unexpected-response').then(
            ([, res]) => `status ${(res as IncomingMessage).statusCode}`,
          ),
        ]);
      }),
    );
    assert.equal(outcomes.filter((o) => o === 'open').length, 3, outcomes.join());
    assert.equal(outcomes.filter((o) => o === 'status 503').length, 17, outcomes.join());
    for (const socket of sockets) socket.terminate();
    await waitFor(
      async () => (await handshake(ws('/chat'))) === 'open',
      3000,
      'a slot to come back',
    );
  });
});
