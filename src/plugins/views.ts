/** The narrow request and response views plugin hooks get: headers through get/set/delete, never Node's objects. */
import type { IncomingHttpHeaders } from 'node:http';
import { ERROR_STATUS, GatewayError, type ErrorCode } from '../errors.js';
import type { RequestContext } from '../request/context.js';
import type { PluginHeaders, PluginPrincipal, PluginRequest, PluginResponse } from './types.js';

// RFC 9110 7.6.1 hop-by-hop fields, the framing fields (RFC 9112 6) and what edgeway itself writes: a
// plugin that could set these could desynchronise the connection or forge edgeway's own facts.
const FRAMING = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'x-request-id',
];
const REQUEST_OWNED = new Set([
  ...FRAMING,
  'host',
  'expect',
  'http2-settings',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'traceparent',
  'tracestate',
]);
const RESPONSE_OWNED = new Set([...FRAMING, 'content-encoding']);

// RFC 9110 5.5: field values are visible ASCII, SP, HTAB and obs-text; CR and LF would split the header.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

function checkedName(name: string, owned: ReadonlySet<string>): string {
  const lower = String(name).toLowerCase();
  if (!FIELD_NAME.test(lower)) throw new TypeError(`"${name}" is not a header name`);
  if (owned.has(lower) || lower.startsWith('x-edgeway-'))
    throw new TypeError(`plugins cannot change the ${lower} header`);
  return lower;
}

function checkedValue(value: string): string {
  const text = String(value);
  if (!FIELD_VALUE.test(text))
    throw new TypeError('header values cannot contain control characters');
  return text;
}

/** The last value edgeway's stages queued for the upstream under `lower`, if any. */
function queued(list: ReadonlyArray<readonly [string, string]>, lower: string): string | undefined {
  for (let i = list.length - 1; i >= 0; i--)
    if ((list[i] as readonly [string, string])[0] === lower)
      return (list[i] as readonly [string, string])[1];
  return undefined;
}

function unqueue(list: Array<[string, string]>, lower: string): void {
  for (let i = list.length - 1; i >= 0; i--)
    if ((list[i] as [string, string])[0] === lower) list.splice(i, 1);
}

/**
 * An `onRequest` view. One per plugin call (the only allocation a plugin costs per request); header
 * edits go to the request context, so the next plugin and the upstream see them.
 */
export class RequestView implements PluginRequest, PluginHeaders {
  readonly #ctx: RequestContext;
  /** Set by `reject`, and honoured even when the plugin catches what `reject` threw. */
  rejection: GatewayError | undefined;

  constructor(ctx: RequestContext) {
    this.#ctx = ctx;
  }

  get method(): string {
    return this.#ctx.req.method ?? 'GET';
  }

  get path(): string {
    return this.#ctx.path;
  }

  get query(): string {
    return this.#ctx.query.slice(1);
  }

  get clientIp(): string {
    return this.#ctx.clientIp;
  }

  get principal(): PluginPrincipal | undefined {
    return this.#ctx.principal;
  }

  /** The view is its own headers object: one allocation per call instead of two. */
  get headers(): PluginHeaders {
    return this;
  }

  get(name: string): string | undefined {
    const lower = String(name).toLowerCase();
    const ctx = this.#ctx;
    const own = queued(ctx.upstreamHeaders, lower);
    // Client copies of x-edgeway-* never reach the upstream, so a plugin never reads them either.
    if (own !== undefined || lower.startsWith('x-edgeway-') || ctx.droppedHeaders?.has(lower))
      return own;
    const value = ctx.req.headers[lower];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  set(name: string, value: string): void {
    const lower = checkedName(name, REQUEST_OWNED);
    const text = checkedValue(value);
    this.delete(lower);
    this.#ctx.upstreamHeaders.push([lower, text]);
  }

  delete(name: string): void {
    const lower = checkedName(name, REQUEST_OWNED);
    const ctx = this.#ctx;
    (ctx.droppedHeaders ??= new Set()).add(lower);
    unqueue(ctx.upstreamHeaders, lower);
  }

  reject(status: number, code: ErrorCode, message: string): never {
    if (!Number.isInteger(status) || status < 400 || status > 599)
      throw new TypeError(`reject needs a status from 400 to 599, not ${status}`);
    if (!Object.hasOwn(ERROR_STATUS, code))
      throw new TypeError(
        `reject needs one of edgeway's error codes (${Object.keys(ERROR_STATUS).join(', ')}), not "${code}"`,
      );
    this.rejection = new GatewayError(code, String(message), [], { status });
    throw this.rejection;
  }
}

/** An `onResponse` view over the upstream's response headers, before they are written to the client. */
export class ResponseView implements PluginResponse, PluginHeaders {
  readonly status: number;
  readonly #headers: IncomingHttpHeaders;

  constructor(status: number, headers: IncomingHttpHeaders) {
    this.status = status;
    this.#headers = headers;
  }

  get headers(): PluginHeaders {
    return this;
  }

  get(name: string): string | undefined {
    const value = this.#headers[String(name).toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  set(name: string, value: string): void {
    this.#headers[checkedName(name, RESPONSE_OWNED)] = checkedValue(value);
  }

  delete(name: string): void {
    delete this.#headers[checkedName(name, RESPONSE_OWNED)];
  }
}
