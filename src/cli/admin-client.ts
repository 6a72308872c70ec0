/** Talks to a gateway's admin API from the CLI: base URL from --admin, bearer token from EDGEWAY_ADMIN_TOKEN. */

/** Default admin address (SPEC: `gateway.admin` is 127.0.0.1:9901). */
export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9901';

/** A gateway's admin API. */
export interface AdminClient {
  readonly baseUrl: string;
  /** Sends a request; a JSON body is serialised. Rejects only when the gateway cannot be reached. */
  request(method: string, path: string, body?: unknown): Promise<Response>;
}

/** The admin URL: --admin, else the default. */
export function adminUrl(flag: unknown): string {
  return (typeof flag === 'string' && flag !== '' ? flag : DEFAULT_ADMIN_URL).replace(/\/+$/, '');
}

/** A client for `baseUrl`, sending `Authorization: Bearer <token>` when a token is set. */
export function adminClient(baseUrl: string, token: string | undefined = process.env.EDGEWAY_ADMIN_TOKEN || undefined): AdminClient {
  return {
    baseUrl,
    request(method, path, body) {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      return fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
    },
  };
}

/** The message of a SPEC error body, else the status line. */
export async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (typeof parsed.error?.message === 'string') return `${response.status}: ${parsed.error.message}`;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return `${response.status}: ${text.slice(0, 200) || response.statusText}`;
}

/** Why a request did not reach the gateway: fetch's own message ("fetch failed") hides the cause. */
export function unreachable(err: unknown): string {
  const cause = (err as { cause?: { message?: string } }).cause;
  return cause?.message ?? (err as Error).message;
}
