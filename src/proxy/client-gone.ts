/** Whether the client left mid-exchange, asked the same way of HTTP/1.1 and of Node's HTTP/2 compat objects. */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

/** The client can no longer receive the response: HTTP/1.1's went with its socket, HTTP/2's with its stream. */
export function responseGone(res: ServerResponse): boolean {
  // Http2ServerResponse has no `destroyed`; its stream does.
  return (
    res.destroyed || (res as unknown as Partial<Http2ServerResponse>).stream?.destroyed === true
  );
}

/**
 * The whole response was written. A stream the client reset also ends its writable side, so over HTTP/2
 * `writableFinished` alone would count a reset mid-body as delivered (and leave the upstream body flowing).
 */
export function responseDelivered(res: ServerResponse): boolean {
  return (
    res.writableFinished &&
    (res as unknown as Partial<Http2ServerResponse>).stream?.aborted !== true
  );
}
