/** Classifies what went wrong talking to an upstream, for retries and for the client's status code. */
import { GatewayError } from '../errors.js';

/** Failure kinds, named as in `retries.on`. */
export type FailureKind = 'connect-failure' | 'reset' | 'timeout' | 'invalid-response' | 'client-aborted';

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);
const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** The kind of an error thrown by undici for one upstream attempt. */
export function classifyUpstreamError(err: unknown): FailureKind {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'UND_ERR_ABORTED' || (err as Error | null)?.name === 'AbortError') return 'client-aborted';
  if (CONNECT_FAILURES.has(code)) return 'connect-failure';
  if (TIMEOUTS.has(code)) return 'timeout';
  if (RESETS.has(code)) return 'reset';
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'invalid-response';
  return 'reset';
}

/** The client-facing error for a failed attempt (SPEC: 502 refused/reset/invalid, 504 timed out). */
export function failureToError(kind: FailureKind, service: string): GatewayError {
  switch (kind) {
    case 'timeout':
      return new GatewayError('gateway_timeout', `upstream service "${service}" timed out`);
    case 'connect-failure':
      return new GatewayError('bad_gateway', `upstream service "${service}" refused the connection`);
    case 'invalid-response':
      return new GatewayError('bad_gateway', `upstream service "${service}" sent an invalid response`);
    case 'reset':
    case 'client-aborted':
      return new GatewayError('bad_gateway', `upstream service "${service}" reset the connection`);
  }
}
