/** `edgeway keys list` / `edgeway keys rotate`: edgeway's signing keys, shared with the gateways through the store. */
import type { KeyInfo } from '../security/index.js';
import { JSON_OPTION, parseCommand, UsageError, type CommandSpec } from './args.js';
import { SECURITY_HELP, SECURITY_OPTIONS, withSecurity } from './security-context.js';

const listSpec: CommandSpec = {
  usage: 'edgeway keys list [--json] [--config PATH] [--redis URL]',
  summary: `Lists the signing keys, newest first, with their state (public information only): next (published in the JWKS, signs after the next rotation), current (signs new tokens), retiring (verifies until the time shown), revoked (an emergency rotation; never verifies). ${SECURITY_HELP}`,
  options: { json: JSON_OPTION, ...SECURITY_OPTIONS },
};

const rotateSpec: CommandSpec = {
  usage: 'edgeway keys rotate [--emergency] [--config PATH] [--redis URL]',
  summary: `Makes the next key current: new tokens carry its kid at once, and because it has been published in the JWKS since the previous rotation, verifiers that cache the JWKS already know it. A new next key is published; the previous current key keeps verifying until the tokens it signed have expired (24h). Running gateways pick the change up within a second. --emergency (a leaked key): every existing key is revoked at once, so every outstanding token is refused, and a new, never-published key signs from now on; verifiers that cached the JWKS reject its tokens until they fetch it again. ${SECURITY_HELP}`,
  options: {
    emergency: {
      type: 'boolean',
      help: 'revoke every existing key at once (a leaked key)',
      default: 'off',
    },
    ...SECURITY_OPTIONS,
  },
};

const USAGE = `usage: ${listSpec.usage}\n       ${rotateSpec.usage}`;

/** The table `keys list` prints. */
export function formatKeys(keys: readonly KeyInfo[]): string {
  const rows = [['KID', 'ALG', 'CREATED', 'STATE', 'UNTIL']];
  for (const key of keys) {
    const until = key.retireAfter === undefined ? '' : new Date(key.retireAfter).toISOString();
    rows.push([key.kid, key.alg, new Date(key.createdAt).toISOString(), key.state, until]);
  }
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

/** Runs `edgeway keys <list|rotate>`; returns the exit code. */
export async function keysCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'list') {
    const flags = parseCommand(listSpec, rest);
    if (flags === undefined) return 0;
    return withSecurity(flags, async ({ security }) => {
      const keys = security.keys.list();
      process.stdout.write(flags.json === true ? `${JSON.stringify(keys)}\n` : formatKeys(keys));
      return 0;
    });
  }
  if (action === 'rotate') {
    const flags = parseCommand(rotateSpec, rest);
    if (flags === undefined) return 0;
    return withSecurity(flags, async ({ security }) => {
      const key =
        flags.emergency === true ? await security.keys.revokeAll() : await security.keys.rotate();
      const next = security.keys.list().find((k) => k.state === 'next');
      process.stdout.write(
        `new current key ${key.kid} (${key.alg})${next === undefined ? '' : `; next key ${next.kid} published`}\n`,
      );
      if (flags.emergency === true)
        process.stdout.write(
          'every earlier key is revoked: tokens signed before now are refused\n',
        );
      return 0;
    });
  }
  if (action === '--help' || action === '-h') {
    process.stdout.write(
      `${USAGE}\n\nRun 'edgeway keys list --help' or 'edgeway keys rotate --help' for details.\n`,
    );
    return 0;
  }
  throw new UsageError(`expected "list" or "rotate"\n${USAGE}`);
}
