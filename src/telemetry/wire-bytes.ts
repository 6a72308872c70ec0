/**
 * Bytes a request and its response moved on the client connection: HTTP/1.1 from the socket's own
 * counters, HTTP/2 from counters on the request's stream.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest, ServerHttp2Stream } from 'node:http2';
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
  if (req.httpVersionMajor === 2) return streamOf(req)[STREAM_READ] ?? 0;
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
  if (req.httpVersionMajor === 2) return streamOf(req)[STREAM_WRITTEN] ?? 0;
  const socket = req.socket as MarkedSocket | null;
  if (socket === null) return 0;
  const total = socket.bytesWritten;
  const bytes = total - (socket[WRITTEN] ?? 0);
  socket[WRITTEN] = total;
  return bytes;
}

// HTTP/2 multiplexes streams on one socket, whose counters belong to no single request: each stream counts
// its own DATA payload. Frame headers, padding and the HPACK-compressed header blocks are not counted (what
// a header costs depends on the connection's compression state, not on the request).
const STREAM_READ = Symbol('edgeway.streamBytesRead');
const STREAM_WRITTEN = Symbol('edgeway.streamBytesWritten');

interface CountedStream extends ServerHttp2Stream {
  [STREAM_READ]?: number;
  [STREAM_WRITTEN]?: number;
}

function streamOf(req: IncomingMessage): CountedStream {
  return (req as unknown as Http2ServerRequest).stream;
}

/**
 * Starts counting the DATA payload bytes `stream` receives (the request body) and is given to send (the
 * response body, whether or not the client read it all, as a socket's `bytesWritten` counts). Called when
 * the stream opens, before anything reads it.
 */
export function countStreamBytes(stream: ServerHttp2Stream): void {
  const counted = stream as CountedStream;
  // DATA that came in the same read as the HEADERS is already buffered; nothing has read the stream yet.
  counted[STREAM_READ] = stream.readableLength;
  counted[STREAM_WRITTEN] = 0;
  // Counted where Node's HTTP/2 core hands the stream each DATA payload: a 'data' listener would set the
  // stream flowing before the compat request reads it, and the chunks would bypass the request. The compat
  // response writes every body chunk through the stream's write(); end() only closes it. Shared functions,
  // not closures: with 100 streams per session in flight, every per-stream object is one more for the GC.
  counted.push = countedPush as typeof stream.push;
  counted.write = countedWrite as typeof stream.write;
}

type Push = (this: CountedStream, chunk: unknown, encoding: unknown) => boolean;
type Write = (this: CountedStream, chunk: unknown, encoding: unknown, callback: unknown) => boolean;

/**
 * The stream's push() and write(), counting first; the class's own methods are the ones its prototype chain
 * holds. Fixed parameters (push takes two, write three) rather than rest arguments: no array per chunk.
 */
function countedPush(this: CountedStream, chunk: unknown, encoding: unknown): boolean {
  this[STREAM_READ] = (this[STREAM_READ] ?? 0) + byteLength(chunk, encoding);
  return (Object.getPrototypeOf(this) as { push: Push }).push.call(this, chunk, encoding);
}

function countedWrite(
  this: CountedStream,
  chunk: unknown,
  encoding: unknown,
  callback: unknown,
): boolean {
  this[STREAM_WRITTEN] = (this[STREAM_WRITTEN] ?? 0) + byteLength(chunk, encoding);
  return (Object.getPrototypeOf(this) as { write: Write }).write.call(
    this,
    chunk,
    encoding,
    callback,
  );
}

/** Bytes of a chunk as push() and write() take it; 0 for the end-of-stream null (and anything they refuse). */
function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(
      chunk,
      typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8',
    );
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}
