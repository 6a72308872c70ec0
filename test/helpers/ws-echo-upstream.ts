/** WebSocket instances for tests: a `ws` echo server, and one that answers every handshake with the same bytes. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
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

/** An instance that answers every upgrade with the raw bytes `answer` (a `101` of its own making). */
export interface HandshakeLiar {
  readonly url: string;
  /** FINs received on upgraded connections: the gateway closed them. */
  closed(): number;
  close(): Promise<void>;
}

export async function startHandshakeLiar(answer: string): Promise<HandshakeLiar> {
  let closed = 0;
  const upgraded = new Set<Socket>();
  const server = createServer((_req, res) => res.end('plain'));
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    upgraded.add(socket);
    socket.on('error', () => undefined);
    socket.once('end', () => closed++);
    socket.write(answer);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closed: () => closed,
    close: async () => {
      // Upgraded sockets are no longer the HTTP server's: closeAllConnections does not see them.
      for (const socket of upgraded) socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
