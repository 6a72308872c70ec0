/** `edgeway apikeys issue|list|revoke`: API keys for routes with `auth.apiKeys`; a key is printed once and only its hash stored. */
import { parseDuration } from '../config/duration.js';
import type { ApiKeyRecord } from '../security/index.js';
import { JSON_OPTION, parseCommand, printMessage, UsageError, type CommandSpec } from './args.js';
import { scopeList, SECURITY_HELP, SECURITY_OPTIONS, withSecurity } from './security-context.js';

const issueSpec: CommandSpec = {
  usage:
    'edgeway apikeys issue --consumer ID --scope "a b" [--ttl 30d] [--config PATH] [--redis URL]',
  summary: `Creates an API key for a consumer and prints {id, key} as JSON. The key is shown only this once: edgeway stores its SHA-256 digest. Without --ttl the key never expires. A request with the key in x-api-key on a route with auth.apiKeys authenticates as the consumer. ${SECURITY_HELP}`,
  options: {
    consumer: {
      type: 'string',
      value: 'ID',
      help: 'who the key authenticates as (x-edgeway-sub, the consumer rate-limit key)',
      required: true,
    },
    scope: {
      type: 'string',
      value: 'SCOPES',
      help: 'space-separated scopes the key holds ("" for none)',
      required: true,
    },
    ttl: {
      type: 'string',
      value: 'DURATION',
      help: 'lifetime, e.g. 12h or 30d',
      default: 'never expires',
    },
    ...SECURITY_OPTIONS,
  },
};

const listSpec: CommandSpec = {
  usage: 'edgeway apikeys list [--json] [--config PATH] [--redis URL]',
  summary: `Lists API keys with their consumer, scopes and expiry (never the keys). ${SECURITY_HELP}`,
  options: { json: JSON_OPTION, ...SECURITY_OPTIONS },
};

const revokeSpec: CommandSpec = {
  usage: 'edgeway apikeys revoke --id ID [--config PATH] [--redis URL]',
  summary: `Revokes an API key on every gateway within 1 s (Redis pub/sub; in memory mode the gateway re-reads apikeys.json within 0.5 s). ${SECURITY_HELP}`,
  options: {
    id: {
      type: 'string',
      value: 'ID',
      help: 'the key id (ak_..., from issue or list)',
      required: true,
    },
    ...SECURITY_OPTIONS,
  },
};

const USAGE = `usage: ${issueSpec.usage}\n       ${listSpec.usage}\n       ${revokeSpec.usage}`;

function required(
  flags: Record<string, string | boolean | undefined>,
  name: string,
  usage: string,
): string {
  const value = flags[name];
  if (typeof value !== 'string' || value === '')
    throw new UsageError(`--${name} is required\nusage: ${usage}`);
  return value;
}

/** The table `apikeys list` prints; an expired key says so. */
export function formatApiKeys(keys: readonly ApiKeyRecord[], now: number = Date.now()): string {
  const expiry = (k: ApiKeyRecord): string =>
    k.expiresAt === null
      ? 'never'
      : `${new Date(k.expiresAt).toISOString()}${k.expiresAt <= now ? ' (expired)' : ''}`;
  const rows = [
    ['ID', 'CONSUMER', 'CREATED', 'EXPIRES', 'SCOPES'],
    ...keys.map((k) => [
      k.id,
      k.consumer,
      new Date(k.createdAt).toISOString(),
      expiry(k),
      k.scopes.join(' '),
    ]),
  ];
  const widths = [0, 1, 2, 3].map((col) =>
    Math.max(...rows.map((row) => (row[col] as string).length)),
  );
  return (
    rows
      .map((row) =>
        row
          .map((cell, col) => (col < 4 ? cell.padEnd(widths[col] as number) : cell))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

async function issue(argv: string[]): Promise<number> {
  const flags = parseCommand(issueSpec, argv);
  if (flags === undefined) return 0;
  const consumer = required(flags, 'consumer', issueSpec.usage);
  if (typeof flags.scope !== 'string')
    throw new UsageError(`--scope is required (--scope "" for none)\nusage: ${issueSpec.usage}`);
  const scopes = scopeList(flags.scope);
  const ttlMs = typeof flags.ttl === 'string' ? parseDuration(flags.ttl) : undefined;
  if (typeof flags.ttl === 'string' && ttlMs === undefined)
    throw new UsageError('--ttl must be a duration such as 12h or 30d');
  return withSecurity(flags, async ({ security }) => {
    const issued = await security.apiKeys.issue({
      consumer,
      scopes,
      ...(ttlMs === undefined ? {} : { ttlMs }),
    });
    process.stdout.write(`${JSON.stringify({ id: issued.id, key: issued.key })}\n`);
    printMessage('the key is shown only this once; store it now');
    return 0;
  });
}

async function list(argv: string[]): Promise<number> {
  const flags = parseCommand(listSpec, argv);
  if (flags === undefined) return 0;
  return withSecurity(flags, async ({ security }) => {
    const keys = await security.apiKeys.list();
    process.stdout.write(flags.json === true ? `${JSON.stringify(keys)}\n` : formatApiKeys(keys));
    return 0;
  });
}

async function revoke(argv: string[]): Promise<number> {
  const flags = parseCommand(revokeSpec, argv);
  if (flags === undefined) return 0;
  const id = required(flags, 'id', revokeSpec.usage);
  return withSecurity(flags, async ({ security }) => {
    if (!(await security.apiKeys.revoke(id))) {
      printMessage(`no API key "${id}"`);
      return 1;
    }
    process.stdout.write(`revoked ${id}\n`);
    return 0;
  });
}

/** Runs `edgeway apikeys <issue|list|revoke>`; returns the exit code. */
export async function apiKeysCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'issue') return issue(rest);
  if (action === 'list') return list(rest);
  if (action === 'revoke') return revoke(rest);
  if (action === '--help' || action === '-h') {
    process.stdout.write(
      `${USAGE}\n\nRun 'edgeway apikeys <issue|list|revoke> --help' for details.\n`,
    );
    return 0;
  }
  throw new UsageError(`expected "issue", "list" or "revoke"\n${USAGE}`);
}
