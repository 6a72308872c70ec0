/** Bytes a request and its response moved on the client connection, from the socket's own counters. */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

// The socket's totals when its previous request was logged. HTTP/1.1 carries one exchange at a time, so the
// difference since then is this exchange, whatever framing it used (chunked bodies, streamed responses) and
// without a per-chunk counter on the request path.
const READ = Symbol('edgeway.loggedBytesRead');
const WRITTEN = Symbol('edgeway.loggedBytesWritten');

interface MarkedSocket extends Socket {
  [READ]?: number;
  [WRITTEN]?: number;
}

/**
 * Bytes read from the request's socket since the last call for it: the request line, headers and body of
 * the request that just finished (a pipelined request read ahead counts towards the earlier one).
 */
export function bytesReadSinceLast(req: IncomingMessage): number {
  // HTTP/2 multiplexes streams on one socket: its counters belong to no single request.
  if (req.httpVersionMajor === 2) return 0;
  const socket = req.socket as MarkedSocket | null;
  // Node lets go of the socket of a request whose connection closed: its exchange is not counted.
  if (socket === null) return 0;
  const total = socket.bytesRead;
  const bytes = total - (socket[READ] ?? 0);
  socket[READ] = total;
  if (!req.complete) skipRestOfBody(req, socket);
  return bytes;
}

/**
 * A body still arriving when the answer went out (an error answered early, the rest drained) belongs to
 * no later request on the connection: its bytes move the mark when they come. Buffered bytes were already
 * read from the socket, hence the start below zero. Rare path: one listener per such request.
 */
function skipRestOfBody(req: IncomingMessage, socket: MarkedSocket): void {
  let rest = -req.readableLength;
  req.on('data', (chunk: Buffer) => {
    rest += chunk.length;
  });
  // HTTP/1.1 parses the next request only after this body ends, so the mark is still this request's.
  req.once('end', () => {
    socket[READ] = (socket[READ] ?? 0) + rest;
  });
}

/** Bytes written to the request's socket since the last call for it: the status line, headers and body of the response. */
export function bytesWrittenSinceLast(req: IncomingMessage): number {
  if (req.httpVersionMajor === 2) return 0;
  const socket = req.socket as MarkedSocket | null;
  if (socket === null) return 0;
  const total = socket.bytesWritten;
  const bytes = total - (socket[WRITTEN] ?? 0);
  socket[WRITTEN] = total;
  return bytes;
}
