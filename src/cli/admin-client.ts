/** Talks to a gateway's admin API from the CLI: address from --admin or the config's gateway.admin, bearer token from EDGEWAY_ADMIN_TOKEN. */
import { commandConfig } from './command-config.js';
import { CommandError } from './args.js';

/** Default admin address (SPEC: `gateway.admin` is 127.0.0.1:9901). */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9901';

/** How long the CLI waits for an admin answer, ms. */
const ADMIN_TIMEOUT_MS = 5000;

/** A gateway's admin API. */
export interface AdminClient {
  readonly baseUrl: string;
  /** Sends a request; a JSON body is serialised. Rejects with {@link AdminUnreachableError} only when the gateway cannot be reached. */
  request(method: string, path: string, body?: unknown): Promise<Response>;
}

/** The gateway did not answer; the message says why and where ("connection refused at 127.0.0.1:9901"). */
export class AdminUnreachableError extends CommandError {}

/** Where to connect to reach a listener bound to `host`: a wildcard bind is reached on loopback. */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The admin URL: --admin, else `gateway.admin` of the config (--config / EDGEWAY_CONFIG / routes/), else the default. */
export function adminUrl(flags: Record<string, string | boolean | undefined>): string {
  if (typeof flags.admin === 'string' && flags.admin !== '') return flags.admin.replace(/\/+$/, '');
  const { host, port } = commandConfig(flags.config).gateway.admin;
  return `http://${connectHost(host)}:${port}`;
}

/** Why a request did not reach `baseUrl`: fetch's own message ("fetch failed") hides the cause. */
export function unreachableReason(err: unknown, baseUrl: string): string {
  const address = URL.canParse(baseUrl) ? new URL(baseUrl).host : baseUrl;
  if ((err as Error).name === 'TimeoutError')
    return `no answer from ${address} within ${ADMIN_TIMEOUT_MS / 1000} s`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  switch (cause?.code) {
    case 'ECONNREFUSED':
      return `connection refused at ${address}`;
    case 'ECONNRESET':
      return `connection reset by ${address}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host of ${address}`;
    default:
      return `${cause?.message ?? (err as Error).message} at ${address}`;
  }
}

/** A client for `baseUrl`, sending `Authorization: Bearer <token>` when a token is set. */
export function adminClient(
  baseUrl: string,
  token: string | undefined = process.env.EDGEWAY_ADMIN_TOKEN || undefined,
): AdminClient {
  return {
    baseUrl,
    async request(method, path, body) {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      try {
        return await fetch(`${baseUrl}${path}`, {
          method,
          headers,
          body: body === undefined ? null : JSON.stringify(body),
          signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS),
        });
      } catch (err) {
        throw new AdminUnreachableError(unreachableReason(err, baseUrl), { cause: err });
      }
    },
  };
}

/** The message of a SPEC error body, else the status line. */
export async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (typeof parsed.error?.message === 'string')
      return `${response.status}: ${parsed.error.message}`;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return `${response.status}: ${text.slice(0, 200) || response.statusText}`;
}
