/** Classifies what went wrong talking to an upstream, for retries and for the client's status code. */
import type { FailureKind } from '../balancing/endpoint.js';
import { GatewayError } from '../errors.js';

const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT',
]);
const TIMEOUTS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const RESETS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
// undici refuses these before it writes a byte: a request it cannot encode (a header value outside
// RFC 9110 5.5, an invalid method or path) or a pool edgeway itself closed. The instance never saw them.
const GATEWAY_SIDE = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** The code of an upstream answer whose body breaks its protocol's framing (a gRPC message cut short). */
export const UPSTREAM_FRAMING = 'EDGEWAY_UPSTREAM_FRAMING';

/** The kind of an error thrown by undici for one upstream attempt. */
export function classifyUpstreamError(err: unknown): FailureKind {
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as Error | null)?.name;
  if (code === 'UND_ERR_ABORTED' || name === 'AbortError') return 'client-aborted';
  // undici's parser error leaves `code` unset when llhttp has no name for the fault.
  if (name === 'HTTPParserError') return 'invalid-response';
  // Socket, TLS and undici errors all carry a string code; one without came from edgeway's own code.
  if (typeof code !== 'string') return 'gateway-error';
  if (GATEWAY_SIDE.has(code)) return 'gateway-error';
  if (CONNECT_FAILURES.has(code)) return 'connect-failure';
  if (TIMEOUTS.has(code)) return 'timeout';
  if (RESETS.has(code)) return 'reset';
  if (
    code.startsWith('HPE_') ||
    code === 'UND_ERR_INFO' ||
    code === UPSTREAM_FRAMING ||
    code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
  )
    return 'invalid-response';
  return 'reset';
}

/** The client-facing error for a failed attempt (SPEC: 502 refused/reset/invalid, 504 timed out, 500 edgeway's own). */
export function failureToError(kind: FailureKind, service: string, cause?: unknown): GatewayError {
  switch (kind) {
    case 'timeout':
      return new GatewayError('gateway_timeout', `upstream service "${service}" timed out`);
    case 'connect-failure':
      return new GatewayError(
        'bad_gateway',
        `upstream service "${service}" refused the connection`,
      );
    case 'invalid-response':
      return new GatewayError(
        'bad_gateway',
        `upstream service "${service}" sent an invalid response`,
      );
    case 'gateway-error':
      return new GatewayError(
        'internal_error',
        `the gateway could not send the request to service "${service}"`,
        [],
        { cause },
      );
    case 'reset':
    case 'client-aborted':
      return new GatewayError('bad_gateway', `upstream service "${service}" reset the connection`);
  }
}
