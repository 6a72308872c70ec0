/** Keeps HTTP/2 response trailers (gRPC's grpc-status) that undici's request API would drop. */
import type { Dispatcher } from 'undici';

type Trailers =
  Buffer[] | string[] | Record<string, string | string[] | undefined> | null | undefined;

/** Node's trailers object as the [name, value, ...] list undici's request handler reads. */
function flatten(trailers: Trailers): Buffer[] | string[] | null | undefined {
  if (trailers === null || trailers === undefined || Array.isArray(trailers)) return trailers;
  const out: string[] = [];
  for (const [name, value] of Object.entries(trailers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  return out;
}

/**
 * undici 7's HTTP/2 client completes a request with Node's trailers *object*, while its request API parses
 * trailers as a flat list, so `response.trailers` stays empty. This handler sits between the two (legacy
 * handler methods only, so undici calls it as such) and flattens them.
 */
class TrailerFix implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;

  constructor(inner: Dispatcher.DispatchHandler) {
    this.#inner = inner;
  }

  onConnect(abort: (err?: Error) => void, context?: unknown): void {
    // The request handler keeps `context` for its response; the typings leave the argument out.
    (
      this.#inner.onConnect as
        ((abort: (err?: Error) => void, context?: unknown) => void) | undefined
    )?.call(this.#inner, abort, context);
  }

  onResponseStarted(): void {
    this.#inner.onResponseStarted?.();
  }

  onHeaders(status: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    return this.#inner.onHeaders?.(status, headers, resume, statusText) ?? true;
  }

  onUpgrade(
    status: number,
    headers: Buffer[] | string[] | null,
    socket: import('node:stream').Duplex,
  ): void {
    this.#inner.onUpgrade?.(status, headers, socket);
  }

  onData(chunk: Buffer): boolean {
    return this.#inner.onData?.(chunk) ?? true;
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.#inner.onBodySent?.(chunkSize, totalBytesSent);
  }

  onError(err: Error): void {
    this.#inner.onError?.(err);
  }

  onComplete(trailers: Trailers): void {
    this.#inner.onComplete?.(flatten(trailers) as string[] | null);
  }
}

/** The interceptor for `dispatcher.compose`: every request's handler gets its HTTP/2 trailers flattened. */
export const keepH2Trailers: Dispatcher.DispatcherComposeInterceptor =
  (dispatch) => (options, handler) =>
    dispatch(options, new TrailerFix(handler));
