/** Why a request failed, as a small fixed index: the gateway's own error codes, or the upstream's 4xx/5xx. */
import { ERROR_STATUS, GatewayError, type ErrorCode } from '../../errors.js';

/** Every reason, in index order: the error catalogue's codes, then answers the upstream itself gave. */
export const REASONS: readonly string[] = Object.freeze([
  ...Object.keys(ERROR_STATUS),
  'upstream_4xx',
  'upstream_5xx',
]);
/** Number of reasons (the length of every per-bucket reason array). */
export const REASON_COUNT = REASONS.length;
/** The index of "no failure". */
export const NO_REASON = -1;

const CODE_INDEX = Object.freeze(
  Object.fromEntries(Object.keys(ERROR_STATUS).map((code, i) => [code, i])),
) as Readonly<Record<ErrorCode, number>>;
const UPSTREAM_4XX = REASONS.indexOf('upstream_4xx');
const UPSTREAM_5XX = REASONS.indexOf('upstream_5xx');

/** The reason of a finished request: the GatewayError that answered, else the upstream's own error status. */
export function reasonOf(status: number, error: unknown): number {
  if (error instanceof GatewayError) return CODE_INDEX[error.code];
  if (status >= 500) return UPSTREAM_5XX;
  if (status >= 400) return UPSTREAM_4XX;
  return NO_REASON;
}
