/**
 * The admin API's defence against browsers (DNS rebinding, CSRF): loopback is not a trust boundary, since
 * any page a local browser opens can send requests to 127.0.0.1:9901.
 */
import { isIP } from 'node:net';
import { hostname as machineHostname } from 'node:os';
import type { MiddlewareHandler } from 'hono';
import { GatewayError } from '../errors.js';

/** The names a Host header may give for the admin listener, lower-cased: its configured host and the machine's name. */
export function adminHostNames(
  listenHost: string,
  machine: string = machineHostname(),
): ReadonlySet<string> {
  return new Set(
    [listenHost, machine].map((name) => name.toLowerCase()).filter((name) => isIP(name) === 0),
  );
}

// reg-name / IPv4 or a bracketed IPv6 literal, then an optional port (RFC 9110 7.2, RFC 3986 3.2.2).
const HOST = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::\d{1,5})?$/;

/** The host part of a Host header value (`name:port`, `[v6]:port`), lower-cased; undefined when it is not one. */
export function hostOf(authority: string): string | undefined {
  const match = HOST.exec(authority);
  return match === null ? undefined : (match[1] ?? (match[2] as string)).toLowerCase();
}

/**
 * Whether a Host header names this listener. DNS rebinding always uses a name the attacker controls, so
 * an IP literal is safe, and so are `localhost` names (RFC 6761 6.3: they never leave the machine). The
 * port is not compared: an attacker picks the port in the URL freely, and port forwarding
 * (`kubectl port-forward`, `docker -p`) legitimately changes it.
 */
export function namesAdminListener(host: string | undefined, names: ReadonlySet<string>): boolean {
  const name = host === undefined ? undefined : hostOf(host);
  if (name === undefined) return false;
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || names.has(name);
}

/** Whether an Origin header is the page of this very listener (same host and port as the Host header). */
export function isOwnOrigin(origin: string, host: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  // The scheme is left out: a TLS-terminating proxy in front of the admin port makes the page https.
  return url.host === new URL(`${url.protocol}//${host}`).host;
}

function isJson(contentType: string): boolean {
  return (contentType.split(';', 1)[0] as string).trim().toLowerCase() === 'application/json';
}

/**
 * Refuses (403) a Host that does not name the listener and an Origin other than its own, and (415) a body
 * or content type other than JSON: an HTML form or a "simple" cross-origin fetch can only send form or
 * text bodies, which is what lets them skip the CORS preflight.
 */
export function browserGuard(listenHost: string): MiddlewareHandler {
  const names = adminHostNames(listenHost);
  return async function adminBrowserGuard(c, next) {
    const host = c.req.header('host');
    if (!namesAdminListener(host, names)) {
      throw new GatewayError(
        'forbidden',
        `Host "${host ?? ''}" does not name this admin listener: use its address, localhost or ${[...names].join(', ') || 'its host name'}`,
      );
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && !isOwnOrigin(origin, host as string)) {
      throw new GatewayError(
        'forbidden',
        `requests from the page at ${origin} are refused: the admin API answers its own dashboard only`,
      );
    }
    const contentType = c.req.header('content-type');
    const hasBody =
      c.req.header('transfer-encoding') !== undefined ||
      Number(c.req.header('content-length') ?? 0) > 0;
    if ((contentType !== undefined || hasBody) && !isJson(contentType ?? '')) {
      throw new GatewayError(
        'unsupported_media_type',
        'admin request bodies must be application/json',
      );
    }
    await next();
  };
}
