/** Shared CLI plumbing: flag parsing with --help, and the settings every command reads from env and flags. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command's flags and its help text. */
export interface CommandSpec {
  readonly usage: string;
  readonly summary: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
}

/** Thrown for bad usage; main prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

/** Parses argv against a spec; `--help` prints help and returns undefined. */
export function parseCommand(spec: CommandSpec, argv: string[]): Record<string, string | boolean | undefined> | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    const lines = Object.entries(spec.options).map(([name, o]) => `  --${name}${o.type === 'string' ? ' VALUE' : ''}`);
    process.stdout.write(`${spec.usage}\n\n${spec.summary}\n\nOptions:\n${lines.join('\n')}\n  --help\n`);
    return undefined;
  }
  try {
    return parseArgs({ args: argv, options: spec.options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: ${spec.usage}`);
  }
}

/** The config path: --config, else EDGEWAY_CONFIG, else routes/. */
export function configPath(flag: unknown): string {
  return (typeof flag === 'string' ? flag : undefined) ?? process.env.EDGEWAY_CONFIG ?? 'routes';
}

/** The Redis URL: --redis, else REDIS_URL, else none (embedded store). */
export function redisUrl(flag: unknown): string | undefined {
  const url = (typeof flag === 'string' ? flag : undefined) ?? process.env.REDIS_URL;
  return url === '' ? undefined : url;
}

/** A port flag as a number, refusing anything but 0-65535. */
export function portFlag(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--${name} must be a port number (0-65535)`);
  return port;
}

/** Where edgeway keeps local state (signing keys in embedded mode). */
export function dataDir(): string {
  return process.env.EDGEWAY_DATA_DIR ?? '.data';
}
