/** The one place that fixes stage order: every route runs its stages in this order, then the proxy. */
import { buildCompressionStage } from '../proxy/compression.js';
import { buildRequestHeadersStage, buildResponseHeadersStage } from '../proxy/header-transforms.js';
import { buildAuthStage } from '../security/auth-stage.js';
import { buildCorsStage, CORS_RESPONSE_HEADERS } from '../security/cors.js';
import { buildIpRulesStage } from '../security/ip-rules.js';
import type { Security } from '../security/index.js';
import type { PluginHost } from '../plugins/host.js';
import type { PluginStageDeps } from '../plugins/stage.js';
import type { SpanFactory, StageName } from '../telemetry/tracing/spans.js';
import { buildRateLimitStage, type RateLimitStageDeps } from '../traffic/rate-limit/stage.js';
import type { Stage } from '../request/context.js';
import type { CompiledRoute } from '../request/route.js';

/** Shared objects stages are built from, outliving reloads; a new stage adds what it needs here. */
export interface StageDeps {
  readonly spans: SpanFactory;
  readonly security: Security;
  readonly rateLimit: RateLimitStageDeps;
  /** The loaded plugin instances, and how a failed hook is logged and counted. */
  readonly plugins: { readonly host: PluginHost; readonly onFailure: PluginStageDeps['onFailure'] };
}

/** Builds a stage for a route, or undefined when the route does not use it (costing nothing per request). */
export type StageFactory = (route: CompiledRoute, deps: StageDeps) => Stage | undefined;

/** A stage's name: its span is `edgeway.<name>`, so a new stage also names its span in telemetry/tracing/spans.ts. */
export type StageKey = StageName extends `edgeway.${infer Key}` ? Key : never;

/** The stages in the order they run. A new stage (CORS, IP rules, API keys, plugins, ...) joins by adding one entry. */
export const STAGES: ReadonlyArray<readonly [StageKey, StageFactory]> = [
  // Edge policies before auth: the response rules first so every later answer gets them, then the
  // address check, then CORS (a preflight carries no credentials and is answered here).
  [
    'response_headers',
    (route) =>
      buildResponseHeadersStage(
        route.config,
        route.config.cors === undefined ? [] : CORS_RESPONSE_HEADERS,
      ),
  ],
  ['ip_rules', (route) => buildIpRulesStage(route.config)],
  ['cors', (route) => buildCorsStage(route.config)],
  ['auth', (route, deps) => buildAuthStage(route.config, deps.security)],
  ['rate_limit', (route, deps) => buildRateLimitStage(route.config, deps.rateLimit)],
  // Besides this stage's span, each plugin call has its own `edgeway.plugin <name>` span.
  [
    'plugins',
    (route, deps) =>
      deps.plugins.host.build(route, { spans: deps.spans, onFailure: deps.plugins.onFailure }),
  ],
  ['request_headers', (route) => buildRequestHeadersStage(route.config)],
  ['compression', (route) => buildCompressionStage(route.config)],
];

/** The route's stages in order, each wrapped in its span; a route that uses none gets an empty list. */
export function buildStages(route: CompiledRoute, deps: StageDeps): Stage[] {
  const stages: Stage[] = [];
  const { spans } = deps;
  for (const [key, build] of STAGES) {
    const stage = build(route, deps);
    if (stage === undefined) continue;
    const span: StageName = `edgeway.${key}`;
    stages.push((ctx) => spans.runStage(span, stage, ctx));
  }
  return stages;
}
