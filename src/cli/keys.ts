/** `edgeway keys list` / `edgeway keys rotate`: edgeway's signing keys, shared with the gateways through the store. */
import type { KeyInfo } from '../security/index.js';
import { JSON_OPTION, parseCommand, UsageError, type CommandSpec } from './args.js';
import { SECURITY_HELP, SECURITY_OPTIONS, withSecurity } from './security-context.js';

const listSpec: CommandSpec = {
  usage: 'edgeway keys list [--json] [--config PATH] [--redis URL]',
  summary: `Lists the signing keys that still verify, newest first (public information only). ${SECURITY_HELP}`,
  options: { json: JSON_OPTION, ...SECURITY_OPTIONS },
};

const rotateSpec: CommandSpec = {
  usage: 'edgeway keys rotate [--config PATH] [--redis URL]',
  summary: `Adds a new current signing key. Running gateways pick it up within a second; the previous key keeps verifying until the tokens it signed have expired (24h). ${SECURITY_HELP}`,
  options: SECURITY_OPTIONS,
};

const USAGE = `usage: ${listSpec.usage}\n       ${rotateSpec.usage}`;

/** The table `keys list` prints. */
export function formatKeys(keys: readonly KeyInfo[]): string {
  const rows = [['KID', 'ALG', 'CREATED', 'STATUS']];
  for (const key of keys) {
    const status = key.current ? 'current' : `verifies until ${new Date(key.retireAfter ?? 0).toISOString()}`;
    rows.push([key.kid, key.alg, new Date(key.createdAt).toISOString(), status]);
  }
  const widths = [0, 1, 2].map((col) => Math.max(...rows.map((row) => (row[col] as string).length)));
  return rows.map((row) => row.map((cell, col) => (col < 3 ? cell.padEnd(widths[col] as number) : cell)).join('  ')).join('\n') + '\n';
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
      const key = await security.keys.rotate();
      process.stdout.write(`new current key ${key.kid} (${key.alg})\n`);
      return 0;
    });
  }
  if (action === '--help' || action === '-h') {
    process.stdout.write(`${USAGE}\n\nRun 'edgeway keys list --help' or 'edgeway keys rotate --help' for details.\n`);
    return 0;
  }
  throw new UsageError(`expected "list" or "rotate"\n${USAGE}`);
}
