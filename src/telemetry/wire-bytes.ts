/** Bytes a request and its response moved on the client connection, from the socket's own counters. */
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
 * Bytes read from `socket` since the last call for it: the request line, headers and body of the request
 * that just finished (a pipelined request read ahead counts towards the earlier one).
 */
export function bytesReadSinceLast(socket: Socket): number {
  const marked = socket as MarkedSocket;
  const total = socket.bytesRead;
  const bytes = total - (marked[READ] ?? 0);
  marked[READ] = total;
  return bytes;
}

/** Bytes written to `socket` since the last call for it: the status line, headers and body of the response. */
export function bytesWrittenSinceLast(socket: Socket): number {
  const marked = socket as MarkedSocket;
  const total = socket.bytesWritten;
  const bytes = total - (marked[WRITTEN] ?? 0);
  marked[WRITTEN] = total;
  return bytes;
}
