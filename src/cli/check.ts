/** `edgeway check`: validates config and prints each error with file, line and key path. */
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadAndCompile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { TrustedProxies } from '../pipeline/client-ip.js';
import { compileMatch } from '../pipeline/route-table.js';
import { configPath, parseCommand, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  usage: 'edgeway check [--config PATH]',
  summary: 'Validates the config (a YAML file or a folder of them). Exit 0 when valid, 1 on any error.',
  options: { config: { type: 'string' } },
};

/**
 * The snapshot's compilers that need no running parts (store, registry, listeners), run as start-up and
 * reload run them, so `check` refuses what they would refuse, with the same message.
 */
function compileOffline(config: Config): void {
  new TrustedProxies(config.gateway.trustedProxies);
  for (const route of config.routes) compileMatch(route);
}

/** Runs the command; returns the exit code. */
export async function checkCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  const path = configPath(flags.config);
  const loaded = loadAndCompile(path, compileOffline);
  if (!loaded.ok) {
    for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.stderr.write(`${loaded.diagnostics.length} error(s) in ${path}\n`);
    return 1;
  }
  process.stdout.write(`config OK: ${loaded.files.join(', ')} (${loaded.config.routes.length} routes, ${Object.keys(loaded.config.services).length} services)\n`);
  return 0;
}
