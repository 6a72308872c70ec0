/** loadAndCompile with plugins: between validation and build, plugin modules are imported and each route's `create` runs. */
import { loadAndCompile, type Compiled, type ConfigCompiler } from '../config/load.js';
import type { PluginHost } from './host.js';
import { loadPlugins } from './load.js';

/**
 * The one path of `edgeway check`, start-up and reload once plugins are involved (importing a module is
 * asynchronous): a plugin that cannot load or refuses its config is a diagnostic like any other, and with
 * a `host` the build sees the new instances. Never throws.
 */
export async function loadAndCompileWithPlugins<T>(
  path: string,
  compiler: ConfigCompiler<T>,
  host?: PluginHost,
): Promise<Compiled<T>> {
  const validated = loadAndCompile(path, { check: compiler.check, build: () => undefined });
  if (!validated.ok) return validated;
  const { config, files, locate } = validated;
  const plugins = await loadPlugins(config, locate);
  if (!plugins.ok) return plugins;
  host?.use(plugins.plugins, config.gateway.pluginTimeout, plugins.modules);
  try {
    return { ok: true, config, files, locate, output: compiler.build(config, files) };
  } catch (err) {
    return {
      ok: false,
      diagnostics: [
        {
          file: path,
          line: 0,
          path: '',
          message: `cannot compile config: ${(err as Error).message}`,
        },
      ],
    };
  }
}
