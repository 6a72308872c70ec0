/** Streams an upstream response body to the client with backpressure, and says how it ended. */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FailureKind } from '../balancing/endpoint.js';
import { responseDelivered, responseGone } from './client-gone.js';
import { classifyUpstreamError } from './upstream-errors.js';

/**
 * A destroyed undici body emits its abort error after the relay settled; the listener stays for the
 * body's whole life so that error never reaches `uncaughtException`.
 */
function ignore(): void {}

/** Whether undici's trailers object holds any field; no key array per response. */
function hasFields(trailers: Record<string, string>): boolean {
  for (const _name in trailers) return true;
  return false;
}

/**
 * Copies `body` into `res` with backpressure; resolves with undefined when the client got everything, else
 * the failure. Hand-rolled rather than `stream.pipeline`, which allocates an AbortController (and a
 * DOMException on completion) per call (~7% of the proxy path's CPU), and rather than `pipe()`, whose own
 * `error`, `close`, `finish` and `unpipe` listeners (and `pipe` and `unpipe` events) per response duplicate
 * what this function watches anyway.
 */
export function relay(
  body: Readable,
  res: ServerResponse,
  trailers?: Record<string, string>,
): Promise<FailureKind | undefined> {
  body.on('error', ignore);
  // The client may have gone while the upstream was still answering: 'close' has already fired.
  if (responseGone(res)) {
    body.destroy();
    return Promise.resolve('client-aborted');
  }
  return new Promise((resolve) => {
    let settled = false;
    const settle = (failure: FailureKind | undefined): void => {
      if (settled) return;
      settled = true;
      body.off('error', onError);
      body.off('data', onData);
      body.off('end', onEnd);
      res.off('drain', onDrain);
      res.off('finish', onFinish);
      res.off('close', onClose);
      resolve(failure);
    };
    let waiting = false;
    const onDrain = (): void => {
      waiting = false;
      body.resume();
    };
    const onData = (chunk: Buffer): void => {
      if (!res.write(chunk) && !waiting) {
        waiting = true;
        body.pause();
        res.once('drain', onDrain);
      }
    };
    const onEnd = (): void => {
      // undici fills `trailers` before the body ends, so added here, before end(), they reach an HTTP/2 client
      // in the final HEADERS frame (gRPC's grpc-status, RFC 9113 8.1). HTTP/1.1 clients would need chunked
      // framing and a Trailer announcement: they are not sent there.
      if (trailers !== undefined && res.req?.httpVersionMajor === 2 && hasFields(trailers))
        res.addTrailers(trailers);
      res.end();
    };
    const onError = (err: unknown): void => {
      res.destroy();
      settle(classifyUpstreamError(err));
    };
    const onFinish = (): void => {
      // Node's HTTP/2 compat response also says 'finish' for a stream the client reset: not everything got there.
      if (responseDelivered(res)) return settle(undefined);
      body.destroy();
      settle('client-aborted');
    };
    const onClose = (): void => {
      if (responseDelivered(res)) return settle(undefined);
      body.destroy();
      settle('client-aborted');
    };
    body.once('error', onError);
    res.once('finish', onFinish);
    res.once('close', onClose);
    body.on('data', onData);
    body.once('end', onEnd);
  });
}

/**
 * Answers with headers and no body in one go: set before `end()`, the fields travel in a HEADERS frame that
 * ends the stream over HTTP/2, which gRPC's trailers-only response requires (a status in the HEADERS of a
 * stream that then sends an empty DATA frame is no status to a gRPC client). `fields` is [name, value, ...].
 */
export function endWithHeaders(
  res: ServerResponse,
  status: number,
  fields: readonly string[],
): void {
  res.statusCode = status;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    const previous = res.getHeader(name);
    res.setHeader(
      name,
      previous === undefined
        ? value
        : [...(Array.isArray(previous) ? previous : [String(previous)]), value],
    );
  }
  res.end();
}
