/** `edgeway token issue` prints a signed JWT; `edgeway token revoke` revokes a jti on every gateway. */
import { parseDuration } from '../config/duration.js';
import { adminClient, adminUrl, AdminUnreachableError, errorMessage } from './admin-client.js';
import {
  ADMIN_OPTION,
  CommandError,
  JSON_OPTION,
  parseCommand,
  redisUrl,
  UsageError,
  type CommandSpec,
} from './args.js';
import { scopeList, SECURITY_HELP, SECURITY_OPTIONS, withSecurity } from './security-context.js';

const issueSpec: CommandSpec = {
  usage:
    'edgeway token issue --sub ID --scope "a b" [--ttl 1h] [--aud X] [--json] [--config PATH] [--redis URL]',
  summary: `Prints a JWT signed with edgeway's current key (iss "edgeway"; aud defaults to the audience of the edgeway issuer in the config; ttl at most 24h). --json prints {token, jti, expiresAt}. ${SECURITY_HELP}`,
  options: {
    sub: { type: 'string', value: 'ID', help: "the client's subject (sub claim)", required: true },
    scope: {
      type: 'string',
      value: 'SCOPES',
      help: 'space-separated scopes ("" for none)',
      required: true,
    },
    ttl: { type: 'string', value: 'DURATION', help: 'lifetime, at most 24h', default: '1h' },
    aud: {
      type: 'string',
      value: 'X',
      help: 'audience (aud claim)',
      default: 'the audience of the edgeway issuer in the config',
    },
    json: { ...JSON_OPTION, help: 'print {token, jti, expiresAt}' },
    ...SECURITY_OPTIONS,
  },
};

const revokeSpec: CommandSpec = {
  usage: 'edgeway token revoke --jti ID [--redis URL | --admin URL] [--config PATH]',
  summary:
    'Revokes a token by its jti on every gateway within 1 s, until the longest token lifetime has passed. With --redis or REDIS_URL the revocation is written to Redis and pushed to every gateway. Without Redis the revocation list lives inside the running gateway process, so the command asks that gateway through its admin API: --admin URL, else gateway.admin of the config, with Authorization: Bearer $EDGEWAY_ADMIN_TOKEN when set.',
  options: {
    jti: {
      type: 'string',
      value: 'ID',
      help: "the token's jti (token issue --json prints it)",
      required: true,
    },
    admin: ADMIN_OPTION,
    ...SECURITY_OPTIONS,
  },
};

const USAGE = `usage: ${issueSpec.usage}\n       ${revokeSpec.usage}`;

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

/** SPEC's usage lists `--scope "a b"`, so it must be given; an explicit `--scope ""` issues a scope-less token. */
function scopeFlag(flags: Record<string, string | boolean | undefined>): string[] {
  if (typeof flags.scope !== 'string')
    throw new UsageError(`--scope is required (--scope "" for none)\nusage: ${issueSpec.usage}`);
  return scopeList(flags.scope);
}

async function issue(argv: string[]): Promise<number> {
  const flags = parseCommand(issueSpec, argv);
  if (flags === undefined) return 0;
  const sub = required(flags, 'sub', issueSpec.usage);
  const scopeNames = scopeFlag(flags);
  const ttlMs = parseDuration(typeof flags.ttl === 'string' ? flags.ttl : '1h');
  if (ttlMs === undefined) throw new UsageError('--ttl must be a duration such as 15m or 1h');
  const aud = typeof flags.aud === 'string' ? flags.aud : undefined;
  return withSecurity(flags, async ({ security }) => {
    const issued = await security.issueToken({
      sub,
      scopes: scopeNames,
      ttlMs,
      ...(aud === undefined ? {} : { aud }),
    });
    const out =
      flags.json === true
        ? JSON.stringify({
            token: issued.token,
            jti: issued.jti,
            expiresAt: new Date(issued.expiresAt).toISOString(),
          })
        : issued.token;
    process.stdout.write(`${out}\n`);
    return 0;
  });
}

async function revoke(argv: string[]): Promise<number> {
  const flags = parseCommand(revokeSpec, argv);
  if (flags === undefined) return 0;
  const jti = required(flags, 'jti', revokeSpec.usage);
  if (redisUrl(flags.redis) !== undefined) {
    return withSecurity(flags, async ({ security }) => {
      await security.revoke(jti);
      process.stdout.write(`revoked ${jti}\n`);
      return 0;
    });
  }
  const admin = adminClient(adminUrl(flags));
  let response: Response;
  try {
    response = await admin.request('POST', `/admin/tokens/${encodeURIComponent(jti)}/revoke`);
  } catch (err) {
    if (!(err instanceof AdminUnreachableError)) throw err;
    throw new CommandError(
      `no Redis configured (--redis, REDIS_URL) and cannot reach the gateway's admin API: ${err.message}`,
    );
  }
  if (!response.ok)
    throw new CommandError(`${admin.baseUrl} answered ${await errorMessage(response)}`);
  process.stdout.write(`revoked ${jti} (via ${admin.baseUrl})\n`);
  return 0;
}

/** Runs `edgeway token <issue|revoke>`; returns the exit code. */
export async function tokenCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'issue') return issue(rest);
  if (action === 'revoke') return revoke(rest);
  if (action === '--help' || action === '-h') {
    process.stdout.write(
      `${USAGE}\n\nRun 'edgeway token issue --help' or 'edgeway token revoke --help' for details.\n`,
    );
    return 0;
  }
  throw new UsageError(`expected "issue" or "revoke"\n${USAGE}`);
}
