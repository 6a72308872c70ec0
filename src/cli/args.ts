/** Shared CLI plumbing: flag parsing with --help, the one message format, and the settings every command reads from env and flags. */
import { parseArgs } from 'node:util';

/** One flag: its parse type, the placeholder and description --help shows, and its default (or that it is required). */
export type OptionSpec = {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** The value's placeholder in --help (string flags), e.g. PATH. */
  readonly value?: string;
  readonly help: string;
} & ({ readonly default: string } | { readonly required: true });

/** A command's flags and its help text. */
export interface CommandSpec {
  readonly usage: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
}

/** Thrown for bad usage; main prints the message and the usage, and exits 2. */
export class UsageError extends Error {}

/** Thrown when a command cannot do its work (unreachable gateway, invalid config); main prints the message and exits 1. */
export class CommandError extends Error {}

/** Every message the CLI writes to stderr starts the same way: `edgeway: <message>`. */
export function printMessage(message: string): void {
  process.stderr.write(`edgeway: ${message}\n`);
}

/** The `--help` text: usage, summary, then one line per option with its description and default. */
export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.options).map(([name, o]): [string, string] => {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}${o.multiple === true ? '...' : ''}`;
    return [flag, `${o.help} (${'required' in o ? 'required' : `default: ${o.default}`})`];
  });
  rows.push(['--help', 'print this help and exit']);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return `${spec.usage}\n\n${spec.summary}\n\nOptions:\n${rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join('\n')}\n`;
}

/** Parses argv against a spec; `--help` prints help and returns undefined. */
export function parseCommand(
  spec: CommandSpec,
  argv: string[],
): Record<string, string | boolean | undefined> | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(spec));
    return undefined;
  }
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [
      name,
      { type: o.type, multiple: o.multiple === true },
    ]),
  );
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false })
      .values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: ${spec.usage}`);
  }
}

/** `--config`, as every command that reads the config takes it. */
export const CONFIG_OPTION: OptionSpec = {
  type: 'string',
  value: 'PATH',
  help: 'config file or folder of YAML files',
  default: '$EDGEWAY_CONFIG, else routes/',
};

/** `--redis`, as every command that can use Redis takes it. */
/** `--port` of the commands that run a gateway. */
export const PORT_OPTION: OptionSpec = {
  type: 'string',
  value: 'N',
  help: 'public listener port',
  default: 'gateway.listen.port of the config (8080)',
};

/** `--admin-port` of the commands that run a gateway. */
export const ADMIN_PORT_OPTION: OptionSpec = {
  type: 'string',
  value: 'N',
  help: 'admin listener port',
  default: 'gateway.admin.port of the config (9901)',
};

export const REDIS_OPTION: OptionSpec = {
  type: 'string',
  value: 'URL',
  help: 'Redis to use (redis://, rediss://, redis+sentinel://, redis+cluster://)',
  default: '$REDIS_URL, else none',
};

/** `--admin`, as every command that talks to a gateway's admin API takes it. */
export const ADMIN_OPTION: OptionSpec = {
  type: 'string',
  value: 'URL',
  help: "the gateway's admin API; Authorization: Bearer $EDGEWAY_ADMIN_TOKEN when set",
  default: 'gateway.admin of the config, else http://127.0.0.1:9901',
};

/** `--json`, for commands that can print JSON instead of a table. */
export const JSON_OPTION: OptionSpec = {
  type: 'boolean',
  help: 'print JSON instead of text',
  default: 'off',
};

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
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--${name} must be a port number (0-65535)`);
  return port;
}

/** Where edgeway keeps local state (signing keys in embedded mode). */
export function dataDir(): string {
  return process.env.EDGEWAY_DATA_DIR ?? '.data';
}
