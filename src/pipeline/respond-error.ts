/** Writes the SPEC's JSON error answer; the only place an error becomes bytes on the wire. */
import type { ServerResponse } from 'node:http';
import { errorBody, type GatewayError } from '../errors.js';

/**
 * Answers `err` unless headers already went out, in which case the response is cut short so the client
 * sees a truncated body rather than a wrong one.
 */
export function respondError(
  res: ServerResponse,
  err: GatewayError,
  requestId: string,
  extra: ReadonlyArray<readonly [string, string]> = [],
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(err.code, err.message, requestId);
  const headers: string[] = [
    'content-type', 'application/json',
    'content-length', String(Buffer.byteLength(body)),
    'cache-control', 'no-store',
    'x-request-id', requestId,
  ];
  for (const [name, value] of extra) headers.push(name, value);
  for (const [name, value] of err.headers) headers.push(name, value);
  res.writeHead(err.status, headers);
  res.end(body);
}
