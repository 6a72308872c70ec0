/** A `ws` echo server that records each handshake request and its server-side sockets. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';

export interface EchoUpstream {
  readonly url: string;
  readonly handshakes: IncomingMessage[];
  readonly sockets: WebSocket[];
  close(): Promise<void>;
}

export async function startEchoUpstream(): Promise<EchoUpstream> {
  const server: Server = createServer((_req, res) => res.end('plain'));
  const wss = new WebSocketServer({ server });
  const handshakes: IncomingMessage[] = [];
  const sockets: WebSocket[] = [];
  wss.on('connection', (socket, req) => {
    handshakes.push(req);
    sockets.push(socket);
    socket.on('message', (data, binary) => socket.send(data, { binary }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handshakes,
    sockets,
    close: async () => {
      for (const socket of wss.clients) socket.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
