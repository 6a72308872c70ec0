/** The client connection a request came on, as the auth stage keys its per-connection memo. */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/**
 * The request's socket, or over HTTP/2 its session (an HTTP/2 request's `socket` is a new proxy object per
 * stream); undefined once an HTTP/2 stream is gone.
 */
export function connectionOf(req: IncomingMessage): object | undefined {
  return req.httpVersionMajor === 2
    ? (req as unknown as Http2ServerRequest).stream.session
    : req.socket;
}
