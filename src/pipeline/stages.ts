/** The one place that fixes stage order: every route runs its stages in this order, then the proxy. */
import type { Config } from '../config/schema.js';
import type { SpanFactory, StageName } from '../telemetry/spans.js';
import type { Stage } from './context.js';
import type { CompiledRoute } from './route-table.js';

/** Builds a stage for a route, or undefined when the route does not use it (costing nothing per request). */
export type StageFactory = (route: CompiledRoute, config: Config) => Stage | undefined;

/** A stage kind: its span name and its factory. */
export interface StageKind {
  readonly span: StageName;
  readonly build: StageFactory;
}

/** Shared objects stages are built from, in the order they run. */
export interface StageDeps {
  readonly stageKinds: readonly StageKind[];
  readonly spans: SpanFactory;
}

/** The route's stages in order, each wrapped in its span; a route that uses none gets an empty list. */
export function buildStages(route: CompiledRoute, config: Config, deps: StageDeps): Stage[] {
  const stages: Stage[] = [];
  for (const kind of deps.stageKinds) {
    const stage = kind.build(route, config);
    if (stage === undefined) continue;
    const { spans } = deps;
    const name = kind.span;
    stages.push((ctx) => spans.runStage(name, stage, ctx));
  }
  return stages;
}
