/** `edgeway check`: validates config and prints each error with file, line and key path. */
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadAndCompileWithPlugins } from '../plugins/compile.js';
import { checkOnly } from '../pipeline/compile-checks.js';
import { CONFIG_OPTION, configPath, parseCommand, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  usage: 'edgeway check [--config PATH]',
  summary:
    'Validates the config (a YAML file or a folder of them). Exit 0 when valid, 1 on any error.',
  options: { config: CONFIG_OPTION },
};

/** Runs the command; returns the exit code. */
export async function checkCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  const path = configPath(flags.config);
  // Plugins are imported and their create(config) run, as at start-up and reload: the same errors, by construction.
  const loaded = await loadAndCompileWithPlugins(path, checkOnly);
  if (!loaded.ok) {
    for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.stderr.write(`edgeway: ${loaded.diagnostics.length} error(s) in ${path}\n`);
    return 1;
  }
  process.stdout.write(
    `config OK: ${loaded.files.join(', ')} (${loaded.config.routes.length} routes, ${Object.keys(loaded.config.services).length} services)\n`,
  );
  return 0;
}
