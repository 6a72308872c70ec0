/** Turns a route's `rateLimit.key` into a per-request bucket name; never an undefined or shared-by-accident key. */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Principal } from '../../request/context.js';

/** What the key function reads from a request. */
export interface KeySource {
  readonly clientIp: string;
  readonly principal: Principal | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** Computes the part of a bucket name that identifies the caller. */
export type KeyFunction = (source: KeySource) => string;

// Client-chosen values (header, sub) longer than this are hashed, so a key stays short in Redis.
const MAX_RAW_LENGTH = 128;

function bounded(prefix: string, value: string): string {
  if (value.length <= MAX_RAW_LENGTH) return `${prefix}:${value}`;
  return `${prefix}#:${createHash('sha256').update(value).digest('base64url')}`;
}

// Every fallback is the client IP under its own prefix: "sub:1.2.3.4" and "ip:1.2.3.4" never collide.
const byIp: KeyFunction = (source) => `ip:${source.clientIp === '' ? 'unknown' : source.clientIp}`;

/**
 * Builds the key function once per route from `consumer | ip | route | header:NAME` (the schema has
 * already checked the spelling). `consumer` uses the token's sub and falls back to the client IP
 * for an anonymous request; `header:NAME` falls back to the client IP when the header is absent.
 */
export function keyFunction(spec: string): KeyFunction {
  if (spec === 'route') return () => 'route';
  if (spec === 'ip') return byIp;
  if (spec === 'consumer') {
    return (source) =>
      source.principal === undefined ? byIp(source) : bounded('sub', source.principal.sub);
  }
  if (spec.startsWith('header:')) {
    const name = spec.slice('header:'.length).toLowerCase();
    return (source) => {
      const raw = source.headers[name];
      const value = Array.isArray(raw) ? raw.join(', ') : raw;
      return value === undefined || value === '' ? byIp(source) : bounded('h', value);
    };
  }
  throw new Error(`unknown rate-limit key "${spec}"`);
}

/**
 * The full bucket name function of a route, `<route>:<key>`; with `route` keys the name is one string
 * built here, so such a request builds none.
 */
export function bucketNameFunction(routeName: string, spec: string): KeyFunction {
  if (spec === 'route') {
    const name = `${routeName}:route`;
    return () => name;
  }
  const keyOf = keyFunction(spec);
  return (source) => `${routeName}:${keyOf(source)}`;
}
