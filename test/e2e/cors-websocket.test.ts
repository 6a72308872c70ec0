/** CORS origins guard WebSocket handshakes, which browsers send cross-site without any CORS check. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const APP = 'https://app.example.com';

describe('cors on a WebSocket route', () => {
  let server: Server;
  let wss: WebSocketServer;
  let gw: TestGateway;
  const handshakes: IncomingMessage[] = [];

  before(async () => {
    server = createServer((_req, res) => res.end('plain'));
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => {
      handshakes.push(req);
      socket.on('message', (data) => socket.send(data));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const upstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gw = await startGateway({
      'c.yaml': `services:\n  chat: { instances: [${upstream}] }\nroutes:\n  - { name: chat, match: { path: /chat }, service: chat, websocket: true, cors: { origins: ["${APP}"], credentials: true } }\n`,
    });
  });
  after(async () => {
    await gw.stop();
    for (const socket of wss.clients) socket.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const ws = (): string => gw.url.replace('http:', 'ws:') + '/chat';

  for (const [who, origin] of [
    ['the allowed origin', APP],
    ['a client that sends no Origin (not a browser)', undefined],
  ] as const) {
    test(`a handshake from ${who} is relayed`, async () => {
      const socket = new WebSocket(ws(), origin === undefined ? {} : { origin });
      await once(socket, 'open');
      socket.send('hi');
      const [data] = (await once(socket, 'message')) as [Buffer];
      assert.equal(data.toString(), 'hi');
      socket.close();
      await once(socket, 'close');
    });
  }

  test('a handshake from another origin gets 403 forbidden and never reaches the upstream', async () => {
    const before = handshakes.length;
    const socket = new WebSocket(ws(), { origin: 'https://evil.example' });
    socket.on('error', () => undefined);
    const res = await Promise.race([
      once(socket, 'unexpected-response').then(([, answer]) => answer as IncomingMessage),
      once(socket, 'open').then(() => undefined),
    ]);
    if (res === undefined) {
      socket.terminate();
      assert.fail('the handshake from another origin was relayed');
    }
    let body = '';
    for await (const chunk of res) body += String(chunk);
    assert.equal(res.statusCode, 403);
    assert.equal((JSON.parse(body) as { error: { code: string } }).error.code, 'forbidden');
    assert.equal(handshakes.length, before);
  });
});
