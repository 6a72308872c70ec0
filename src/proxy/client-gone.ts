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

/**
 * An abort signal for one upstream attempt that fires when the client leaves, in the EventEmitter shape undici
 * accepts. undici's listener goes straight onto the response's `close`: no emitter or closure per attempt.
 * `detach` ends its watch once the upstream answered (the relay takes over from there).
 */
export class ClientGoneSignal {
  readonly #res: ServerResponse;
  #listener: (() => void) | undefined;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  /** Covers a client that left while an earlier attempt failed or its retry waited. */
  get aborted(): boolean {
    return responseGone(this.#res);
  }

  /** undici checks for `on` and then listens with `once`; a `close` comes once, so both just listen. */
  on(_event: 'abort', listener: () => void): this {
    this.#listener = listener;
    this.#res.on('close', listener);
    return this;
  }

  once(event: 'abort', listener: () => void): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: () => void): this {
    this.#res.off('close', listener);
    if (this.#listener === listener) this.#listener = undefined;
    return this;
  }

  detach(): void {
    if (this.#listener !== undefined) this.removeListener('abort', this.#listener);
  }
}
