/**
 * SIGHUP (`Gateway.hangup`: config and certificates re-read) while WebSockets over HTTP/2 are open, on h2c and
 * on the TLS listener: the open sockets survive, new requests see the new config, including one that takes the
 * route's `websocket` away and then the service itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ClientHttp2Session } from 'node:http2';
import { createCa } from '../helpers/certs.js';
import { startGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { openedH2WebSocket, openH2WebSocket, H2WebSocket } from '../helpers/h2-websocket.js';
import { waitFor } from '../helpers/wait-for.js';
import { startEchoUpstream } from '../helpers/ws-echo-upstream.js';

const TRANSPORTS = ['h2c', 'tls'] as const;

describe('SIGHUP with WebSockets over HTTP/2 open', { timeout: 60_000 }, () => {
  for (const transport of TRANSPORTS) {
    test(`${transport}: open sockets survive reloads that remove websocket, then the service; new requests follow the new config`, async () => {
      const upstream = await startEchoUpstream();
      const ca = createCa();
      const leaf = ca.issue('gateway.test', { dns: ['gateway.test'], ip: ['127.0.0.1'] });
      const listener =
        transport === 'h2c'
          ? 'gateway:\n  h2c: true\n'
          : `gateway:\n  tls: { cert: ${leaf.certPath}, key: ${leaf.keyPath} }\n`;
      const gw = await startGateway({
        'c.yaml': `${listener}services:
  chat: { instances: [${upstream.url}] }
routes:
  - { name: chat, match: { path: /chat }, service: chat, websocket: true }
`,
      });
      const origin = transport === 'h2c' ? gw.url : `https://127.0.0.1:${gw.gateway.port}`;
      const scheme = { ':scheme': transport === 'h2c' ? 'http' : 'https' };
      const connect = (): Promise<ClientHttp2Session> =>
        h2Connect(origin, transport === 'h2c' ? {} : { ca: ca.cert, servername: 'gateway.test' });
      const sessions: ClientHttp2Session[] = [];
      try {
        const session = await connect();
        sessions.push(session);
        const socket = await openedH2WebSocket(session, '/chat/kept', scheme);
        assert.equal(await socket.echo('before'), 'before');

        gw.write(
          'c.yaml',
          `${listener}services:
  chat: { instances: [${upstream.url}] }
routes:
  - { name: chat, match: { path: /chat }, service: chat }
`,
        );
        gw.gateway.hangup();
        // New extended CONNECTs are refused once the reload is in; plain requests still reach the service.
        await waitFor(
          async () => {
            const fresh = await openH2WebSocket(session, '/chat/new', scheme);
            if (fresh instanceof H2WebSocket) {
              fresh.stream.close();
              return false;
            }
            return fresh.status === 400;
          },
          10_000,
          'the reload without websocket applied',
        );
        const plain = await h2Request(session, { ':method': 'GET', ':path': '/chat', ...scheme });
        assert.equal(plain.status, 200);
        assert.equal(plain.body, 'plain');
        assert.equal(await socket.echo('after websocket removed'), 'after websocket removed');

        gw.write(
          'c.yaml',
          `${listener}services:
  other: { instances: ["http://127.0.0.1:9"] }
routes:
  - { name: other, match: { path: /other }, service: other }
`,
        );
        gw.gateway.hangup();
        await waitFor(
          async () =>
            (await h2Request(session, { ':method': 'GET', ':path': '/chat', ...scheme })).status ===
            404,
          10_000,
          'the reload without the service applied',
        );
        assert.equal(await socket.echo('after service removed'), 'after service removed');
        // A session opened after the reloads sees the same config.
        const late = await connect();
        sessions.push(late);
        const refused = await openH2WebSocket(late, '/chat/late', scheme);
        assert.ok(!(refused instanceof H2WebSocket));
        assert.equal(refused.status, 404);

        const ended = once(socket.stream, 'close');
        socket.close();
        await ended;
        const gauge = async (): Promise<number> =>
          (
            await gw.gateway.metricsRegistry.getSingleMetric('edgeway_websocket_connections')?.get()
          )?.values.find((v) => v.labels.route === 'chat')?.value ?? 0;
        await waitFor(async () => (await gauge()) === 0, 5000, 'the gauge back at 0');
      } finally {
        for (const session of sessions) session.destroy();
        await gw.stop();
        await upstream.close();
        ca.cleanup();
      }
    });
  }
});
