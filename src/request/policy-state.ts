/** What the edge-policy stages hand on through the request context: header rules and the negotiated coding. */

/** Request rules: client headers to drop (a set name replaces the client's copy), then headers to add. */
export interface RequestHeaderRules {
  /** Lower-case names. */
  readonly drop: ReadonlySet<string>;
  /** Flat [name, value, ...] list appended to the upstream request. */
  readonly set: readonly string[];
}

/** Response rules, applied to proxied responses and to edgeway's own answers. */
export interface ResponseHeaderRules {
  /** Lower-case names removed from every answer (the configured `remove` and the names `set` replaces). */
  readonly drop: ReadonlySet<string>;
  /** `drop`, plus names a stage owns on this route (the CORS headers): removed from the upstream's response only. */
  readonly dropUpstream: ReadonlySet<string>;
  /** Flat [name, value, ...] list appended to proxied responses. */
  readonly set: readonly string[];
  /** `set` less the headers that describe edgeway's JSON error body, which an error answer keeps. */
  readonly setOnErrors: readonly string[];
}

/** A content coding edgeway compresses with (RFC 9110 8.4.1). */
export type ContentCoding = 'br' | 'gzip';

/** A route's compression settings, compiled. */
export interface CompressionPolicy {
  readonly encodings: readonly ContentCoding[];
  readonly minBytes: number;
  readonly exactTypes: ReadonlySet<string>;
  /** `text/` from `text/*`. */
  readonly typePrefixes: readonly string[];
  /** [`application/`, `+json`] from `application/*+json`. */
  readonly typeSuffixes: ReadonlyArray<readonly [string, string]>;
  /** Accept-Encoding values already negotiated (clients send few distinct ones); null = no coding. */
  readonly negotiated: Map<string, ContentCoding | null>;
}

/** What the compression stage settled for one request. */
export interface ResponseCompression {
  readonly policy: CompressionPolicy;
  /** The coding the client accepts best, or undefined (the answer still says `Vary: Accept-Encoding`). */
  readonly encoding: ContentCoding | undefined;
}

/**
 * The headers of a non-error answer edgeway writes itself (a CORS preflight): `base`, the extras stages
 * added unless removed, then the route's `set`.
 */
export function ownAnswerHeaders(
  base: string[],
  extra: ReadonlyArray<readonly [string, string]>,
  rules: ResponseHeaderRules | undefined,
): string[] {
  for (const [name, value] of extra) {
    if (rules === undefined || !rules.drop.has(name.toLowerCase())) base.push(name, value);
  }
  if (rules !== undefined) base.push(...rules.set);
  return base;
}
