/** The config a one-shot command reads (admin address, auth section): --config, else EDGEWAY_CONFIG, else routes/. */
import { existsSync } from 'node:fs';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadConfig } from '../config/load.js';
import { configSchema, type Config } from '../config/schema.js';
import { CommandError, configPath } from './args.js';

/**
 * The config a command points at. A missing default `routes/` folder is not an error (`keys list` needs no
 * routes, `services` only the admin address): the defaults apply. A named config must load cleanly.
 */
export function commandConfig(flag: unknown): Config {
  const path = configPath(flag);
  const named = typeof flag === 'string' || process.env.EDGEWAY_CONFIG !== undefined;
  if (!named && !existsSync(path)) return configSchema.parse({});
  const loaded = loadConfig(path);
  if (!loaded.ok)
    throw new CommandError(
      `invalid config at ${path}:\n${loaded.diagnostics.map(formatDiagnostic).join('\n')}`,
    );
  return loaded.config;
}
