/** The one place that fixes stage order: every route runs its stages in this order, then the proxy. */
import type { Config } from '../config/schema.js';
import type { Stage } from './context.js';
import type { CompiledRoute } from './route-table.js';

/** Shared objects stages are built from (verifiers, limiters); absent ones disable their stage. */
export interface StageDeps {
  readonly stageFactories?: ReadonlyArray<StageFactory>;
}

/** Builds a stage for a route, or undefined when the route does not use it (costing nothing per request). */
export type StageFactory = (route: CompiledRoute, config: Config) => Stage | undefined;

/** The route's stages in order; a route that uses none gets an empty list. */
export function buildStages(route: CompiledRoute, config: Config, deps: StageDeps): Stage[] {
  const stages: Stage[] = [];
  for (const factory of deps.stageFactories ?? []) {
    const stage = factory(route, config);
    if (stage !== undefined) stages.push(stage);
  }
  return stages;
}
