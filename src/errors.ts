/** The error catalogue: SPEC codes, their HTTP status, and the one JSON body every error answer uses. */

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  headers_too_large: 431,
  rate_limited: 429,
  bad_gateway: 502,
  unavailable: 503,
  gateway_timeout: 504,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Headers an error answer adds, as [name, value] pairs. */
export type ErrorHeaders = ReadonlyArray<readonly [string, string]>;

/** A failure the gateway answers itself; stages throw it and one renderer turns it into the SPEC body. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: ErrorHeaders;
  /** Fields the body carries beside `error` (the admin reload's list of config errors). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  /** `options.status` overrides the code's usual status (a plugin's `reject(402, 'forbidden', ...)`). */
  constructor(
    code: ErrorCode,
    message: string,
    headers: ErrorHeaders = [],
    options?: { cause?: unknown; details?: Readonly<Record<string, unknown>>; status?: number },
  ) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.status = options?.status ?? ERROR_STATUS[code];
    this.headers = headers;
    this.details = options?.details;
  }
}

/** The SPEC's error body: `{"error": {"code", "message", "requestId"}}`. */
export function errorBody(code: ErrorCode, message: string, requestId: string): string {
  return JSON.stringify({ error: { code, message, requestId } });
}

/** An error answer ready for any writer: status, header pairs and the JSON body. */
export interface RenderedError {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

/**
 * The one renderer of error answers, on every listener: the SPEC body, `requestId` equal to the
 * `x-request-id` header, `extra` headers (a route's response headers) and then the error's own.
 */
export function renderError(
  err: GatewayError,
  requestId: string,
  extra: ErrorHeaders = [],
): RenderedError {
  const body =
    err.details === undefined
      ? errorBody(err.code, err.message, requestId)
      : JSON.stringify({
          ...err.details,
          error: { code: err.code, message: err.message, requestId },
        });
  const headers: Array<readonly [string, string]> = [
    ['content-type', 'application/json'],
    ['content-length', String(Buffer.byteLength(body))],
    ['cache-control', 'no-store'],
    ['x-request-id', requestId],
    ...extra,
    ...err.headers,
  ];
  return { status: err.status, headers, body };
}

/** SPEC's gRPC status for each HTTP status edgeway refuses with (gRPC status codes: 16 UNAUTHENTICATED ... 4 DEADLINE_EXCEEDED). */
const GRPC_STATUS: Readonly<Record<number, number>> = {
  401: 16,
  403: 7,
  404: 12,
  413: 8,
  429: 8,
  502: 14,
  503: 14,
  504: 4,
};

/** INTERNAL: every refusal without its own gRPC code. */
const GRPC_INTERNAL = 13;

/** gRPC over HTTP/2: grpc-message is percent-encoded UTF-8; printable ASCII other than `%` stays as is. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The same refusal for a gRPC client: HTTP 200 with the status in `grpc-status` and `grpc-message` and no
 * body, sent trailers-only; the error's own headers (`www-authenticate` on 16, `retry-after`) stay.
 */
export function renderGrpcError(
  err: GatewayError,
  requestId: string,
  extra: ErrorHeaders = [],
  contentType = 'application/grpc',
): RenderedError {
  const headers: Array<readonly [string, string]> = [
    ['content-type', contentType],
    ['grpc-status', String(GRPC_STATUS[err.status] ?? GRPC_INTERNAL)],
    ['grpc-message', encodeGrpcMessage(err.message)],
    ['x-request-id', requestId],
    ...extra,
    ...err.headers,
  ];
  return { status: 200, headers, body: '' };
}

/** Maps anything thrown on the request path to a GatewayError, hiding internals of unexpected failures. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('bad_gateway', 'the gateway failed to handle the request', [], {
    cause: err,
  });
}
