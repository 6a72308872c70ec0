/**
 * The plugin contract (`import type { Plugin } from 'edgeway/plugin'`): what a plugin module exports and
 * the narrow views its hooks get. Views, not Node's request and response, so a plugin cannot break
 * streaming, framing or edgeway's own headers.
 */
import type { ErrorCode } from '../errors.js';

/** Headers of the request or response being handled; names are case-insensitive. */
export interface PluginHeaders {
  /** The value, repeated headers joined with ", "; undefined when absent. */
  get(name: string): string | undefined;
  /** Replaces every value of `name`. Throws TypeError for framing, hop-by-hop and `x-edgeway-*` headers. */
  set(name: string, value: string): void;
  /** Removes `name`. Throws TypeError for the same headers `set` refuses. */
  delete(name: string): void;
}

/** The authenticated caller (a token's subject or an API key's consumer). */
export interface PluginPrincipal {
  readonly sub: string;
  readonly scopes: readonly string[];
}

/** The request as an `onRequest` hook sees it. Header changes reach the upstream. */
export interface PluginRequest {
  readonly method: string;
  /** The normalised path (dot-segments removed), before any stripPrefix. */
  readonly path: string;
  /** The query string without its "?", byte for byte as received ("" when none); parse with URLSearchParams. */
  readonly query: string;
  readonly headers: PluginHeaders;
  /** The client address as `trustedProxies` resolve it. */
  readonly clientIp: string;
  /** Undefined on a route without auth, or for an anonymous request on a route with `required: false`. */
  readonly principal: PluginPrincipal | undefined;
  /**
   * Answers the request with `status` (400-599) and the SPEC's JSON error body instead of forwarding it.
   * `code` is one of edgeway's error codes, so clients see one vocabulary. Throws, so `return req.reject(...)` ends the hook.
   */
  reject(status: number, code: ErrorCode, message: string): never;
}

/** The upstream's response as an `onResponse` hook sees it, before anything is sent to the client. */
export interface PluginResponse {
  readonly status: number;
  readonly headers: PluginHeaders;
}

/** What `create` returns: either hook, or both. A hook may return a promise; edgeway waits for it only then. */
export interface PluginInstance {
  onRequest?(req: PluginRequest): void | Promise<void>;
  onResponse?(res: PluginResponse): void | Promise<void>;
}

/** A plugin module's default export. `create` runs once per route that lists the plugin, at config load. */
export interface Plugin<Config = unknown> {
  readonly name: string;
  /** Validates `config` (throw to refuse it: a config error with file and line) and returns the hooks. */
  create(config: Config): PluginInstance | Promise<PluginInstance>;
}

export type { ErrorCode } from '../errors.js';
