/** HTTP/2 with prior knowledge on the plaintext port (RFC 9113 3.3): the first bytes tell HTTP/2 from HTTP/1.1. */
import type { Server } from 'node:http';
import type { Http2Server } from 'node:http2';
import type { Socket } from 'node:net';

/** RFC 9113 3.4: every HTTP/2 connection opens with these 24 octets. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Sockets handed to the HTTP/2 server. */
export const H2C_SOCKET = Symbol('edgeway.h2c');

/** 'h2' once the bytes so far begin the preface far enough to be nothing else, 'h1' on the first mismatch, else undefined. */
function classify(head: Buffer): 'h1' | 'h2' | undefined {
  const n = Math.min(head.length, PREFACE.length);
  if (!head.subarray(0, n).equals(PREFACE.subarray(0, n))) return 'h1';
  // "PRI " is no HTTP/1.1 method a gateway serves: four bytes decide.
  return n >= 4 ? 'h2' : undefined;
}

/**
 * Makes `server` (HTTP/1.1) read the first bytes of each connection and hand it to `h2` when they open the
 * HTTP/2 preface; the bytes read are put back first, so whichever server takes the socket parses all of them.
 */
export function acceptH2c(server: Server, h2: Http2Server): void {
  const h1 = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const kind = classify(head);
      if (kind === undefined) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      if (kind === 'h2') {
        (socket as Socket & { [H2C_SOCKET]?: true })[H2C_SOCKET] = true;
        // http.Server accepts half-open sockets; an HTTP/2 session would then never learn that its client
        // left, and its streams would wait on request bodies until the drain deadline.
        socket.allowHalfOpen = false;
        h2.emit('connection', socket);
      } else {
        for (const listener of h1) listener.call(server, socket);
      }
      process.nextTick(() => socket.resume());
    };
    socket.on('data', onData);
  });
}
