/**
 * Attacks on WebSocket over HTTP/2 (RFC 8441), each on one session while another client keeps getting 200s:
 * extended-CONNECT floods against an instance that never answers the upgrade, a quiet socket past the session's
 * idle timeout, and an instance whose `101` carries the wrong key proof.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import {
  connect as tcpConnect,
  createServer as createTcpServer,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import {
  connectProtocolEnabled,
  openedH2WebSocket,
  refusedH2WebSocket,
} from '../helpers/h2-websocket.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startVictim, type Victim } from '../helpers/victim.js';
import { waitFor } from '../helpers/wait-for.js';
import {
  startEchoUpstream,
  startHandshakeLiar,
  type EchoUpstream,
  type HandshakeLiar,
} from '../helpers/ws-echo-upstream.js';

/** An instance that accepts TCP connections and never answers a byte; it keeps the sockets it holds open. */
async function startSilentUpstream(): Promise<{
  url: string;
  open: Set<Socket>;
  accepted: () => number;
  close: () => Promise<void>;
}> {
  const open = new Set<Socket>();
  let accepted = 0;
  const server: TcpServer = createTcpServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => open.delete(socket));
    // Reads (and drops) the handshake, so it sees the gateway's FIN.
    socket.resume();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    open,
    accepted: () => accepted,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Opens an extended CONNECT for `path` without waiting for its answer. */
function connectStream(session: ClientHttp2Session, path: string): ClientHttp2Stream {
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': path,
    'sec-websocket-version': '13',
  });
  stream.on('error', () => undefined);
  return stream;
}

function errorCode(body: string): string {
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

describe('WebSocket over HTTP/2 under attack', { timeout: 60_000 }, () => {
  let silent: Awaited<ReturnType<typeof startSilentUpstream>>;
  let wrongAccept: HandshakeLiar;
  let echo: EchoUpstream;
  let plain: Upstream;
  let gw: TestGateway;
  let victim: ClientHttp2Session;
  let asking: Victim;

  before(async () => {
    silent = await startSilentUpstream();
    wrongAccept = await startHandshakeLiar(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    echo = await startEchoUpstream();
    plain = await startUpstream();
    gw = await startGateway({
      'c.yaml': `gateway:
  h2c: true
  http2Limits: { maxResetsPerSecond: 20, idleTimeout: 1s }
services:
  silent: { instances: [${silent.url}] }
  liar: { instances: [${wrongAccept.url}] }
  chat: { instances: [${echo.url}] }
  plain: { instances: [${plain.url}] }
routes:
  - { name: hang, match: { path: /hang }, service: silent, websocket: { maxConnections: 3 }, timeouts: { request: 30s } }
  - { name: brief, match: { path: /brief }, service: silent, websocket: { maxConnections: 1 }, timeouts: { request: 500ms } }
  - { name: liar, match: { path: /liar }, service: liar, websocket: true }
  - { name: chat, match: { path: /chat }, service: chat, websocket: true }
  - { name: plain, match: { path: /plain }, service: plain }
`,
    });
    victim = await h2Connect(gw.url);
    asking = startVictim(async () => {
      const answer = await h2Request(victim, { ':method': 'GET', ':path': '/plain' });
      return answer.status;
    });
  });

  after(async () => {
    await asking.stop();
    victim.destroy();
    await gw.stop();
    await Promise.all([silent.close(), wrongAccept.close(), echo.close(), plain.close()]);
  });

  const gauge = async (route: string): Promise<number> => {
    const metric = await gw.gateway.metricsRegistry
      .getSingleMetric('edgeway_websocket_connections')
      ?.get();
    return metric?.values.find((v) => v.labels.route === route)?.value ?? 0;
  };

  test('extended CONNECTs opened and reset against a silent instance: each half-open upstream connection closes with its stream, the resets count as rapid resets, the slots come back', async () => {
    const attacker = await h2Connect(gw.url);
    await connectProtocolEnabled(attacker);
    // Below the reset limit: every handshake reaches the instance, then the client gives up on it.
    for (let i = 0; i < 6; i++) {
      const accepted = silent.accepted();
      const stream = connectStream(attacker, `/hang/${i}`);
      await waitFor(() => silent.accepted() > accepted, 5000, 'the handshake at the instance');
      stream.close(constants.NGHTTP2_CANCEL);
      await once(stream, 'close');
    }
    // Without the abort the instance would hold six connections until the 30 s handshake timeout.
    await waitFor(() => silent.open.size === 0, 5000, 'the half-open upstream connections closed');
    // Six resets on a route of three slots: a handshake still finds room, and is bounded by maxConnections.
    const held = [0, 1, 2].map((i) => connectStream(attacker, `/hang/held-${i}`));
    await waitFor(() => silent.open.size === 3, 5000, 'three handshakes pending at the instance');
    const refused = await refusedH2WebSocket(attacker, '/hang/fourth');
    assert.equal(refused.status, 503);
    assert.equal(errorCode(refused.body), 'unavailable');
    for (const stream of held) stream.close(constants.NGHTTP2_CANCEL);
    await waitFor(() => silent.open.size === 0, 5000, 'the held handshakes released');
    assert.equal(await gauge('hang'), 0, 'no socket ever opened');
    // A flood of opened-and-reset extended CONNECTs is a rapid reset like any other.
    const goaway = once(attacker, 'goaway');
    for (let i = 0; i < 100 && !attacker.closed && !attacker.destroyed; i++)
      connectStream(attacker, `/hang/flood-${i}`).close(constants.NGHTTP2_CANCEL);
    const [code] = (await goaway) as [number];
    assert.equal(code, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    attacker.destroy();
    await waitFor(() => silent.open.size === 0, 5000, 'the flood left no upstream connection');
    const again = await h2Connect(gw.url);
    try {
      const accepted = silent.accepted();
      const stream = connectStream(again, '/hang/after');
      await waitFor(() => silent.accepted() > accepted, 5000, 'a handshake after the flood');
      stream.close(constants.NGHTTP2_CANCEL);
    } finally {
      again.destroy();
    }
  });

  test('an HTTP/1.1 client that leaves during a pending handshake: the upstream connection closes with it', async () => {
    const accepted = silent.accepted();
    const client = tcpConnect(gw.gateway.port, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    client.write(
      'GET /hang/h1 HTTP/1.1\r\nHost: gateway.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await waitFor(() => silent.accepted() > accepted, 5000, 'the handshake at the instance');
    client.destroy();
    await waitFor(() => silent.open.size === 0, 5000, 'the upstream connection closed');
  });

  test('a handshake the instance never answers times out with 504 and frees its slot', async () => {
    const session = await h2Connect(gw.url);
    try {
      const first = await refusedH2WebSocket(session, '/brief/1');
      assert.equal(first.status, 504);
      assert.equal(errorCode(first.body), 'gateway_timeout');
      const second = await refusedH2WebSocket(session, '/brief/2');
      assert.equal(second.status, 504, 'the slot of the timed-out handshake came back');
      await waitFor(() => silent.open.size === 0, 5000, 'the timed-out connections closed');
    } finally {
      session.destroy();
    }
  });

  test("a 101 whose Sec-WebSocket-Accept is not the key's proof gets 502; the upstream connection is closed", async () => {
    const session = await h2Connect(gw.url);
    try {
      const closed = wrongAccept.closed();
      const refused = await refusedH2WebSocket(session, '/liar');
      assert.equal(refused.status, 502);
      assert.equal(errorCode(refused.body), 'bad_gateway');
      await waitFor(() => wrongAccept.closed() > closed, 5000, 'the upstream connection closed');
      assert.equal(await gauge('liar'), 0);
      const socket = await openedH2WebSocket(session, '/chat/honest');
      assert.equal(await socket.echo('proof checked'), 'proof checked');
      socket.close();
      await once(socket.stream, 'close');
    } finally {
      session.destroy();
    }
  });

  test('a quiet WebSocket keeps its session past the idle timeout: no GOAWAY, the socket and the session stay usable', async () => {
    const session = await h2Connect(gw.url);
    let goaway = false;
    session.on('goaway', () => (goaway = true));
    try {
      const socket = await openedH2WebSocket(session, '/chat/quiet');
      assert.equal(await socket.echo('before'), 'before');
      // Three idle timeouts (1 s) without a frame either way.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(goaway, false, 'no GOAWAY while the socket is open');
      assert.equal(await socket.echo('after the quiet'), 'after the quiet');
      const answer = await h2Request(session, { ':method': 'GET', ':path': '/plain' });
      assert.equal(answer.status, 200, 'the session still takes new streams');
      const ended = once(socket.stream, 'close');
      socket.close();
      await ended;
      // Once the socket is gone the session is idle again and closes as before.
      await waitFor(() => session.closed || session.destroyed, 5000, 'the idle session closed');
      assert.equal(goaway, true);
    } finally {
      session.destroy();
    }
  });
});
