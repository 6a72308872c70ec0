/** A loopback TCP proxy that holds back the server's bytes on chosen connections, e.g. a Redis handshake answered slowly. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

/** A running proxy; `url` is redis://127.0.0.1:<its port>. */
export interface SlowReplyProxy {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Forwards every connection to `targetPort`. Bytes from the target to the client on the n-th accepted
 * connection (0-based, counted per proxy) are delivered `delayMs(n)` later, in order.
 */
export async function startSlowReplyProxy(
  targetPort: number,
  delayMs: (connection: number) => number,
): Promise<SlowReplyProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    const delay = delayMs(accepted);
    accepted += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (delay === 0) client.write(chunk);
      else setTimeout(() => client.writable && client.write(chunk), delay);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    url: `redis://127.0.0.1:${address.port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
