/** Request framing checks (RFC 9112 6.1-6.3): ambiguous or oversized framing is refused before routing. */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

const DIGITS = /^\d+$/;

/** Framing that cannot be trusted leaves the rest of the connection unreadable, so the answer closes it. */
const CLOSE: ReadonlyArray<readonly [string, string]> = [['connection', 'close']];

function faulty(message: string): GatewayError {
  return new GatewayError('bad_request', message, CLOSE);
}

/** An unread body up to this size is read and dropped after an error answer, so the connection serves the next request. */
const DISCARD_LIMIT_BYTES = 64 * 1024; // 64 KiB

/** RFC 9110 10.1.1: the client waits for `100 Continue` before it sends the body (HTTP/1.0 has no 1xx answers). */
export function expectsContinue(req: IncomingMessage): boolean {
  return (
    (req.httpVersionMinor === 1 || req.httpVersionMajor === 2) &&
    req.headers.expect?.toLowerCase() === '100-continue'
  );
}

/**
 * Whether the unread body of a refused request is worth reading to keep the connection: a small declared
 * length. A larger or chunked one (a 413's is too large by definition), or one the client holds back until
 * `100 Continue`, is never read: the answer closes the connection instead (RFC 9112 9.6).
 */
export function discardableBody(req: IncomingMessage): boolean {
  if (expectsContinue(req) || req.headers['transfer-encoding'] !== undefined) return false;
  const cl = req.headers['content-length'];
  return cl === undefined || Number(cl) <= DISCARD_LIMIT_BYTES;
}

/**
 * Refuses requests whose body length two parties could read differently (the root of request smuggling):
 * Content-Length with Transfer-Encoding, repeated Content-Length, any Transfer-Encoding but plain `chunked`,
 * Transfer-Encoding in HTTP/1.0, and more than one Host. Bodies declared larger than `maxBodyBytes` get 413
 * without reading a byte.
 */
export function checkFraming(req: IncomingMessage, maxBodyBytes: number): void {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te !== undefined) {
    // RFC 9112 6.1: HTTP/1.0 has no transfer codings; such a message's framing is faulty whatever else it says.
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)
      throw faulty('Transfer-Encoding in an HTTP/1.0 request');
    // RFC 9112 6.1: a sender must not send Content-Length with Transfer-Encoding; a gateway must not forward it.
    if (cl !== undefined)
      throw faulty('Content-Length and Transfer-Encoding together are ambiguous');
    if (te.toLowerCase() !== 'chunked') throw faulty('only Transfer-Encoding: chunked is accepted');
  }
  // Node keeps the first of repeated Host headers and joins repeated Content-Length ones; both are refused.
  let hosts = 0;
  let lengths = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 14 && name.toLowerCase() === 'content-length') lengths++;
  }
  // RFC 9112 3.2: more than one Host field is a 400.
  if (hosts > 1) throw new GatewayError('bad_request', 'more than one Host header');
  if (cl !== undefined) {
    if (lengths > 1 || !DIGITS.test(cl)) throw faulty('invalid or repeated Content-Length');
    if (Number(cl) > maxBodyBytes)
      throw new GatewayError('payload_too_large', `request body exceeds ${maxBodyBytes} bytes`);
  }
}

/**
 * HTTP/2 counterpart of the HTTP/1.1 parser's header limit: the header list size as SETTINGS_MAX_HEADER_LIST_SIZE
 * counts it (RFC 9113 6.5.2: name, value and 32 octets per field) against `maxHeaderBytes`, answered 431 like
 * an HTTP/1.1 header overflow. Node advertises the setting but holds a session to its own, larger bound.
 */
export function checkHeaderList(req: IncomingMessage, maxHeaderBytes: number): void {
  const raw = req.rawHeaders;
  let size = 0;
  for (let i = 0; i < raw.length; i += 2)
    size += (raw[i] as string).length + (raw[i + 1] as string).length + 32;
  if (size > maxHeaderBytes)
    throw new GatewayError('headers_too_large', 'request headers too large');
}
