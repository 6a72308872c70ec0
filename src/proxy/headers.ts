/** All header hygiene between client, gateway and upstream, in both directions. */
import type { IncomingHttpHeaders } from 'node:http';
import { HOP_BY_HOP } from '../config/hop-by-hop.js';
import type { RequestHeaderRules, ResponseHeaderRules } from '../request/policy-state.js';
import { cgiAlias, isDropped } from './header-transforms.js';

// RFC 9110 7.6.1: hop-by-hop fields end at the gateway; `expect` is answered by the gateway itself and
// `host` is set by the upstream client from the instance's authority.
const REQUEST_DROP = new Set<string>([
  ...HOP_BY_HOP,
  'expect',
  'host',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  // Trace context is re-sent per attempt: the CLIENT span's (or, with tracing off, the client's own).
  'traceparent',
  'tracestate',
]);
const RESPONSE_DROP = new Set<string>([...HOP_BY_HOP, 'x-request-id']);
const HOP_BY_HOP_NAMES: ReadonlySet<string> = new Set(HOP_BY_HOP);

/** A lower-case request header name edgeway writes or consumes itself; a client's copy never passes. */
function isOwnedName(lower: string): boolean {
  return REQUEST_DROP.has(lower) || lower.startsWith('x-edgeway-');
}

/**
 * True for an underscore spelling (`alias` is its {@link cgiAlias}) that a CGI-style stack would read as a
 * name edgeway owns: `X_Edgeway_Sub` arrives there as HTTP_X_EDGEWAY_SUB, the very variable `x-edgeway-sub`
 * becomes; so do the underscore spellings of `x-forwarded-*`, from any peer.
 */
function aliasesOwnedName(alias: string): boolean {
  return isOwnedName(alias) || alias.startsWith('x-forwarded-');
}

/**
 * Header names listed in a `Connection` header (RFC 9110 7.6.1), lower-cased, less the hop-by-hop names
 * dropped anyway; undefined when none is left, as for the usual `keep-alive` and `close`.
 */
function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return addTokens(value, undefined);
  let tokens: Set<string> | undefined;
  for (const part of value) tokens = addTokens(part, tokens);
  return tokens;
}

function addTokens(part: string, tokens: Set<string> | undefined): Set<string> | undefined {
  if (part === 'keep-alive' || part === 'close') return tokens;
  for (const token of part.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !HOP_BY_HOP_NAMES.has(name)) (tokens ??= new Set()).add(name);
  }
  return tokens;
}

/** What the gateway adds to the request it forwards. */
export interface ForwardedFacts {
  readonly clientIp: string;
  /** The X-Forwarded-For chain to send (client's believed chain plus the peer). */
  readonly forwardedFor: string;
  readonly proto: string;
  readonly host: string;
  readonly requestId: string;
  /** The peer is a trusted proxy (`trustedProxies`): its other forwarding headers are believed and passed on. */
  readonly trustedPeer?: boolean;
}

// What only a trusted proxy may tell the upstream about the client (Traefik drops them from others): the
// other X-Forwarded-* fields and the client-address headers that Go's chi RealIP, Echo and nginx realip read.
function claimsForwarding(lower: string): boolean {
  return lower.startsWith('x-forwarded-') || lower === 'x-real-ip' || lower === 'true-client-ip';
}

/**
 * The upstream request headers as a flat [name, value, ...] list: the client's headers less hop-by-hop
 * ones, `x-edgeway-*`, forwarding headers, underscore spellings of any of these and the `dropped` names
 * (lower-case) that stages consumed, plus the gateway's own, then the route's `requestHeaders` (which
 * config keeps away from every name edgeway writes itself).
 */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  connection: string | string[] | undefined,
  facts: ForwardedFacts,
  extra: ReadonlyArray<readonly [string, string]>,
  dropped?: ReadonlySet<string>,
  rules?: RequestHeaderRules,
): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    // RFC 9113 8.3: pseudo-headers (`:method`, `:authority`...) belong to the client's HTTP/2 stream only.
    if (lower.charCodeAt(0) === 58 /* : */) continue;
    const alias = cgiAlias(lower);
    if (isOwnedName(lower) || named?.has(lower) || (alias !== undefined && aliasesOwnedName(alias)))
      continue;
    if (facts.trustedPeer !== true && claimsForwarding(lower)) continue;
    // A header a stage consumed (x-api-key) goes in every spelling a CGI-style upstream reads the same.
    if (dropped !== undefined && isDropped(dropped, lower, alias)) continue;
    if (rules !== undefined && isDropped(rules.drop, lower, alias)) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  out.push(
    'x-forwarded-for',
    facts.forwardedFor,
    'x-forwarded-proto',
    facts.proto,
    'x-forwarded-host',
    facts.host,
    'x-request-id',
    facts.requestId,
  );
  for (const [name, value] of extra) {
    // A plugin's header gives way to the route's requestHeaders, which apply last.
    if (rules === undefined || !rules.drop.has(name.toLowerCase())) out.push(name, value);
  }
  if (rules !== undefined) out.push(...rules.set);
  return out;
}

/**
 * The response headers for the client as a flat list: the upstream's less hop-by-hop ones, plus extras,
 * then the route's `responseHeaders` rules.
 */
export function clientResponseHeaders(
  upstream: IncomingHttpHeaders,
  requestId: string,
  extra: ReadonlyArray<readonly [string, string]>,
  rules?: ResponseHeaderRules,
): string[] {
  const named = connectionTokens(upstream.connection);
  const out: string[] = [];
  for (const name in upstream) {
    if (RESPONSE_DROP.has(name) || named?.has(name) || rules?.dropUpstream.has(name)) continue;
    const value = upstream[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  out.push('x-request-id', requestId);
  for (const [name, value] of extra) {
    if (rules === undefined || !rules.drop.has(name.toLowerCase())) out.push(name, value);
  }
  if (rules !== undefined) out.push(...rules.set);
  return out;
}
