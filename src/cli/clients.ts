/** `edgeway clients add|list|remove`: OAuth2 client-credentials clients; the secret is printed once and only its hash stored. */
import type { ClientInfo } from '../security/index.js';
import {
  JSON_OPTION,
  parseCommand,
  printMessage,
  UsageError,
  type CommandSpec,
  type OptionSpec,
} from './args.js';
import { scopeList, SECURITY_HELP, SECURITY_OPTIONS, withSecurity } from './security-context.js';

const ID_OPTION: OptionSpec = {
  type: 'string',
  value: 'ID',
  help: 'the client id (client_id of the token request)',
  required: true,
};

const addSpec: CommandSpec = {
  usage: 'edgeway clients add --id ID --scope "a b" [--json] [--config PATH] [--redis URL]',
  summary: `Registers a client for POST /oauth/token and prints its secret once; only a hash of it is stored, so it cannot be shown again. ${SECURITY_HELP}`,
  options: {
    id: ID_OPTION,
    scope: {
      type: 'string',
      value: 'SCOPES',
      help: 'space-separated scopes the client may request ("" for none)',
      required: true,
    },
    json: JSON_OPTION,
    ...SECURITY_OPTIONS,
  },
};

const listSpec: CommandSpec = {
  usage: 'edgeway clients list [--json] [--config PATH] [--redis URL]',
  summary: `Lists clients with their scopes (never their secrets). ${SECURITY_HELP}`,
  options: { json: JSON_OPTION, ...SECURITY_OPTIONS },
};

const removeSpec: CommandSpec = {
  usage: 'edgeway clients remove --id ID [--config PATH] [--redis URL]',
  summary: `Removes a client; tokens it already holds stay valid until they expire (revoke them with edgeway token revoke). ${SECURITY_HELP}`,
  options: { id: ID_OPTION, ...SECURITY_OPTIONS },
};

const USAGE = `usage: ${addSpec.usage}\n       ${listSpec.usage}\n       ${removeSpec.usage}`;

function idFlag(flags: Record<string, string | boolean | undefined>, usage: string): string {
  if (typeof flags.id !== 'string' || flags.id === '')
    throw new UsageError(`--id is required\nusage: ${usage}`);
  return flags.id;
}

/** SPEC's usage lists `--scope "a b"`, so it must be given; an explicit `--scope ""` adds a client with no scopes. */
function scopeFlag(flags: Record<string, string | boolean | undefined>): string[] {
  if (typeof flags.scope !== 'string')
    throw new UsageError(`--scope is required (--scope "" for none)\nusage: ${addSpec.usage}`);
  return scopeList(flags.scope);
}

/** The table `clients list` prints. */
export function formatClients(clients: readonly ClientInfo[]): string {
  const rows = [
    ['ID', 'CREATED', 'SCOPES'],
    ...clients.map((c) => [c.id, new Date(c.createdAt).toISOString(), c.scopes.join(' ')]),
  ];
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => (row[col] as string).length)));
  return (
    rows
      .map((row) =>
        row
          .map((cell, col) => (col < 2 ? cell.padEnd(widths[col] as number) : cell))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

async function add(argv: string[]): Promise<number> {
  const flags = parseCommand(addSpec, argv);
  if (flags === undefined) return 0;
  const id = idFlag(flags, addSpec.usage);
  const scopes = scopeFlag(flags);
  return withSecurity(flags, async ({ security }) => {
    const { secret } = await security.clients.add(id, scopes);
    process.stdout.write(
      flags.json === true
        ? `${JSON.stringify({ id, secret })}\n`
        : `client_id:     ${id}\nclient_secret: ${secret}\nThe secret is shown only this once; store it now.\n`,
    );
    return 0;
  });
}

async function list(argv: string[]): Promise<number> {
  const flags = parseCommand(listSpec, argv);
  if (flags === undefined) return 0;
  return withSecurity(flags, async ({ security }) => {
    const clients = await security.clients.list();
    process.stdout.write(
      flags.json === true ? `${JSON.stringify(clients)}\n` : formatClients(clients),
    );
    return 0;
  });
}

async function remove(argv: string[]): Promise<number> {
  const flags = parseCommand(removeSpec, argv);
  if (flags === undefined) return 0;
  const id = idFlag(flags, removeSpec.usage);
  return withSecurity(flags, async ({ security }) => {
    if (!(await security.clients.remove(id))) {
      printMessage(`no client "${id}"`);
      return 1;
    }
    process.stdout.write(`removed ${id}\n`);
    return 0;
  });
}

/** Runs `edgeway clients <add|list|remove>`; returns the exit code. */
export async function clientsCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'add') return add(rest);
  if (action === 'list') return list(rest);
  if (action === 'remove') return remove(rest);
  if (action === '--help' || action === '-h') {
    process.stdout.write(
      `${USAGE}\n\nRun 'edgeway clients <add|list|remove> --help' for details.\n`,
    );
    return 0;
  }
  throw new UsageError(`expected "add", "list" or "remove"\n${USAGE}`);
}
