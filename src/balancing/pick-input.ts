/** Adapts a Node request to the balancer's PickInput, parsing cookies only if a policy asks for one. */
import type { IncomingHttpHeaders } from 'node:http';
import type { PickInput } from './balancer.js';

/** Parses a Cookie header (RFC 6265 5.4: `name=value` pairs separated by "; "); the first of a name wins. */
export function parseCookies(header: string | undefined): ReadonlyMap<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined) return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1);
    if (name !== '' && !cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** A request's PickInput: one object with its methods on the prototype, no closures per request. */
class RequestPickInput implements PickInput {
  #cookies: ReadonlyMap<string, string> | undefined;

  constructor(
    private readonly headers: IncomingHttpHeaders,
    readonly clientIp: string,
    readonly now: number,
  ) {}

  header(name: string): string | undefined {
    const value = this.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  cookie(name: string): string | undefined {
    this.#cookies ??= parseCookies(this.headers.cookie);
    return this.#cookies.get(name);
  }
}

/** A PickInput over a Node request's headers (lower-case names, as Node gives them). */
export function requestPickInput(
  headers: IncomingHttpHeaders,
  clientIp: string,
  now: number,
): PickInput {
  return new RequestPickInput(headers, clientIp, now);
}
