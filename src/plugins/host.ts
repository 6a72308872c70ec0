/** The gateway's plugins across reloads: the instances of the config about to be built, and the stage built from them. */
import type { CompiledRoute } from '../request/route.js';
import type { Stage } from '../request/context.js';
import type { SpanFactory } from '../telemetry/tracing/spans.js';
import type { RoutePlugins } from './load.js';
import { buildPluginStage, type PluginStageDeps } from './stage.js';

/**
 * Holds the instances the next snapshot is built from. A load creates new instances first (any failure
 * refuses the config and keeps the live snapshot, whose stages hold the old ones), then `use`s them just
 * before the build. A stage keeps the instances it was built with, so requests in flight are unaffected.
 */
export class PluginHost {
  #current: RoutePlugins = [];
  #timeoutMs = 50;
  #modules: readonly string[] = [];

  /** Makes `plugins` (loaded for the config about to be built, whose `gateway.pluginTimeout` is `timeoutMs`) the ones routes get. */
  use(plugins: RoutePlugins, timeoutMs: number, modules: readonly string[]): void {
    this.#current = plugins;
    this.#timeoutMs = timeoutMs;
    this.#modules = modules;
  }

  /** The module files of the plugins in use (absolute paths), for the gateway to watch. */
  get modules(): readonly string[] {
    return this.#modules;
  }

  /** The plugins stage of `route`, or undefined when it lists none. */
  build(
    route: CompiledRoute,
    deps: { readonly spans: SpanFactory; readonly onFailure: PluginStageDeps['onFailure'] },
  ): Stage | undefined {
    return buildPluginStage(route.name, this.#current[route.index] ?? [], {
      spans: deps.spans,
      onFailure: deps.onFailure,
      timeoutMs: this.#timeoutMs,
    });
  }
}
