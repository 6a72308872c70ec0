/** `edgeway certs list` / `edgeway certs renew`: the ACME certificates, read from and renewed through the store. */
import { acmeDomains } from '../config/acme-domains.js';
import { acmeStore } from '../server/acme/create.js';
import { storedCertificates } from '../server/acme/report.js';
import type { CertificateView } from '../telemetry/certificates.js';
import type { StoreBackend } from '../store/backend.js';
import { closeBackend, connectBackend } from '../store/connect.js';
import { redact } from '../store/redis-url.js';
import { adminClient, adminUrl, errorMessage } from './admin-client.js';
import {
  ADMIN_OPTION,
  CommandError,
  CONFIG_OPTION,
  dataDir,
  JSON_OPTION,
  parseCommand,
  REDIS_OPTION,
  redisUrl,
  UsageError,
  type CommandSpec,
} from './args.js';
import { commandConfig } from './command-config.js';

const WHERE =
  'Domains come from gateway.tls.acme of the config (--config or EDGEWAY_CONFIG, default routes/). With --redis or REDIS_URL the certificates are read from Redis, shared by every gateway; without, from EDGEWAY_DATA_DIR (default .data).';

const listSpec: CommandSpec = {
  usage: 'edgeway certs list [--json] [--config PATH] [--redis URL]',
  summary: `Lists each ACME domain with issuer, expiry (not-after), state and the last order error. ${WHERE}`,
  options: { json: JSON_OPTION, config: CONFIG_OPTION, redis: REDIS_OPTION },
};

const renewSpec: CommandSpec = {
  usage: 'edgeway certs renew [--domain D] [--config PATH] [--redis URL] [--admin URL]',
  summary:
    "Renews now (every ACME domain, or --domain D). With Redis the request goes into Redis: one gateway orders, every gateway serves the new certificate within seconds. Without Redis it goes to the gateway's admin API.",
  options: {
    domain: { type: 'string', value: 'D', help: 'one ACME domain', default: 'every domain' },
    config: CONFIG_OPTION,
    redis: REDIS_OPTION,
    admin: ADMIN_OPTION,
  },
};

const USAGE = `usage: ${listSpec.usage}\n       ${renewSpec.usage}`;

/** The table `certs list` prints. */
export function formatCertificates(certs: readonly CertificateView[]): string {
  const rows = [['DOMAIN', 'ISSUER', 'NOT AFTER', 'STATE', 'LAST ERROR']];
  for (const c of certs) {
    const retry =
      c.retryAt === undefined ? '' : ` (next attempt ${new Date(c.retryAt).toISOString()})`;
    rows.push([
      c.domain,
      c.issuer ?? '-',
      c.notAfter === undefined ? '-' : new Date(c.notAfter).toISOString(),
      c.state,
      c.lastError === undefined ? '' : `${c.lastError}${retry}`,
    ]);
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

function domainsOf(flags: Record<string, string | boolean | undefined>): string[] {
  const domains = acmeDomains(commandConfig(flags.config));
  if (domains.length === 0)
    throw new CommandError('the config has no gateway.tls.acme (or no domains for it)');
  return domains;
}

/** Runs `work` on the ACME store the flags point at, and closes it. */
async function withStore<T>(
  flags: Record<string, string | boolean | undefined>,
  work: (store: ReturnType<typeof acmeStore>) => Promise<T>,
): Promise<T> {
  const url = redisUrl(flags.redis);
  let backend: StoreBackend;
  try {
    backend = connectBackend(url, dataDir());
  } catch (err) {
    throw new CommandError((err as Error).message);
  }
  // A one-shot command reports an unreachable Redis once, as its failure, not as a stream of error events.
  let lastRedisError: Error | undefined;
  if (backend.kind === 'redis')
    for (const connection of [backend.redis, backend.subscriber])
      connection.on('error', (err: Error) => (lastRedisError = err));
  try {
    return await work(acmeStore(backend));
  } catch (err) {
    if (url === undefined || err instanceof CommandError) throw err;
    throw new CommandError(
      `cannot use Redis at ${redact(url)}: ${(lastRedisError ?? (err as Error)).message}`,
    );
  } finally {
    await closeBackend(backend);
  }
}

/** Runs `edgeway certs <list|renew>`; returns the exit code. */
export async function certsCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === 'list') {
    const flags = parseCommand(listSpec, rest);
    if (flags === undefined) return 0;
    const domains = domainsOf(flags);
    const certs = await withStore(flags, (store) => storedCertificates(store, domains));
    process.stdout.write(
      flags.json === true ? `${JSON.stringify(certs)}\n` : formatCertificates(certs),
    );
    return 0;
  }
  if (action === 'renew') {
    const flags = parseCommand(renewSpec, rest);
    if (flags === undefined) return 0;
    const domains = domainsOf(flags);
    const domain = typeof flags.domain === 'string' ? flags.domain : undefined;
    if (domain !== undefined && !domains.includes(domain))
      throw new CommandError(
        `${domain} is not an ACME domain of this config (${domains.join(', ')})`,
      );
    if (redisUrl(flags.redis) !== undefined) {
      const asked = domain === undefined ? domains : [domain];
      await withStore(flags, async (store) => {
        for (const name of asked) await store.requestRenewal(name);
      });
      process.stdout.write(`renewal requested for ${asked.join(', ')}\n`);
      return 0;
    }
    const response = await adminClient(adminUrl(flags)).request(
      'POST',
      '/admin/certs/renew',
      domain === undefined ? {} : { domain },
    );
    if (!response.ok) throw new CommandError(await errorMessage(response));
    const body = (await response.json()) as { renewing: string[] };
    process.stdout.write(`renewal requested for ${body.renewing.join(', ')}\n`);
    return 0;
  }
  if (action === '--help' || action === '-h') {
    process.stdout.write(
      `${USAGE}\n\nRun 'edgeway certs list --help' or 'edgeway certs renew --help' for details.\n`,
    );
    return 0;
  }
  throw new UsageError(`expected "list" or "renew"\n${USAGE}`);
}
