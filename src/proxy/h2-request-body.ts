/** A request body as an HTTP/2 upstream stream takes it without freezing the gateway when the body is cut off. */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/**
 * Undici 7 sends a Readable body to an HTTP/2 upstream through `stream.pipeline`. When that body fails or
 * the request is aborted while data waits on the upstream's flow-control window (a chunked upload over
 * `maxBodyBytes`, a client that leaves mid-upload), Node 20's HTTP/2 session loops for ever in
 * `SendPendingData`: one client freezes the process. Undici writes an async iterable chunk by chunk,
 * waiting for `drain`, and aborts it without that loop; the Readable's own iterator keeps backpressure and
 * passes its error on. Undici's types leave out the async iterables its request body accepts.
 */
export function h2RequestBody(body: Readable): Dispatcher.DispatchOptions['body'] {
  return body[Symbol.asyncIterator]() as unknown as Dispatcher.DispatchOptions['body'];
}
