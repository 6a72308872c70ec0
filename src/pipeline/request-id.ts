/** x-request-id: the client's when it is sane, else a new one. */
import { randomBytes } from 'node:crypto';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;
// A per-process random prefix plus a counter: unique without a random draw per request.
const PREFIX = randomBytes(6).toString('hex');
let counter = 0;

/** The request id to use: a client-sent one of at most 128 safe characters, or a fresh unique one. */
export function requestIdFor(sent: string | string[] | undefined): string {
  if (typeof sent === 'string' && SANE.test(sent)) return sent;
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PREFIX}-${counter.toString(36)}`;
}
