/** `edgeway register`: registers an instance, heartbeats until SIGINT/SIGTERM, then deregisters. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseDuration } from '../config/duration.js';
import { register, DEFAULT_TTL_MS, type Registration } from '../discovery/client.js';
import { checkRegistration, checkTtl } from '../discovery/instance.js';
import type { RegistryLogger } from '../discovery/registry.js';
import { GatewayError } from '../errors.js';
import { redact } from '../store/redis-url.js';
import { adminClient, adminUrl } from './admin-client.js';
import { registerViaAdmin } from './admin-registration.js';
import {
  ADMIN_OPTION,
  CONFIG_OPTION,
  parseCommand,
  printMessage,
  REDIS_OPTION,
  redisUrl,
  UsageError,
  type CommandSpec,
} from './args.js';

const spec: CommandSpec = {
  usage:
    'edgeway register --service NAME --url URL [--id ID] [--weight N] [--capacity N] [--meta k=v]... [--ttl 10s] [--redis URL | --admin URL] [--config PATH]',
  summary:
    'Registers an instance and heartbeats it every ttl/3 until stopped; deregisters on SIGINT/SIGTERM. With --redis or REDIS_URL it writes the ' +
    'Redis registry; otherwise it uses the admin API of a local gateway (--admin, else gateway.admin of the config).',
  options: {
    service: {
      type: 'string',
      value: 'NAME',
      help: 'the service the instance belongs to',
      required: true,
    },
    url: {
      type: 'string',
      value: 'URL',
      help: 'where the gateway sends requests, e.g. http://10.0.0.5:8080',
      required: true,
    },
    id: {
      type: 'string',
      value: 'ID',
      help: 'instance id, unique within the service',
      default: '<hostname>-<pid>-<random>',
    },
    weight: {
      type: 'string',
      value: 'N',
      help: 'relative share for the weighted and ring-hash balancers',
      default: '1',
    },
    capacity: {
      type: 'string',
      value: 'N',
      help: 'requests the instance handles at once, for least-request',
      default: '100',
    },
    meta: {
      type: 'string',
      value: 'k=v',
      multiple: true,
      help: 'metadata, repeatable',
      default: 'none',
    },
    ttl: {
      type: 'string',
      value: 'DURATION',
      help: 'the instance drops out this long after its last heartbeat',
      default: '10s',
    },
    redis: REDIS_OPTION,
    admin: ADMIN_OPTION,
    config: CONFIG_OPTION,
  },
};

/** Logs registry trouble on stderr; stdout stays for the one "registered" line scripts wait for. */
export const stderrLogger: RegistryLogger = {
  warn: (message, detail) =>
    printMessage(
      `${message}${detail === undefined ? '' : ` (${detail instanceof Error ? detail.message : String(detail)})`}`,
    ),
  info: (message) => printMessage(message),
};

/** "<hostname>-<pid>-<random>", as the embeddable client names instances. */
export function defaultInstanceId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._:-]/g, '-')
      .slice(0, 100) || 'instance';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function count(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be an integer >= 1`);
  return n;
}

function metaFlags(values: unknown): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const meta: Record<string, string> = {};
  for (const pair of values as string[]) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new UsageError(`--meta takes key=value, got "${pair}"`);
    meta[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return meta;
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

/** Runs the command; resolves with the exit code after deregistering. */
export async function registerCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  if (typeof flags.service !== 'string' || typeof flags.url !== 'string')
    throw new UsageError(`--service and --url are required\nusage: ${spec.usage}`);
  const ttlMs = flags.ttl === undefined ? DEFAULT_TTL_MS : parseDuration(String(flags.ttl));
  if (ttlMs === undefined) throw new UsageError('--ttl must be a duration such as 10s');
  const input = {
    service: flags.service,
    url: flags.url,
    id: typeof flags.id === 'string' ? flags.id : defaultInstanceId(),
    weight: count(flags.weight, 'weight'),
    capacity: count(flags.capacity, 'capacity'),
    meta: metaFlags(flags.meta),
  };
  try {
    checkRegistration(input);
    checkTtl(ttlMs);
  } catch (err) {
    if (err instanceof GatewayError) throw new UsageError(err.message);
    throw err;
  }
  const redis = redisUrl(flags.redis);
  const admin = redis === undefined ? adminClient(adminUrl(flags)) : undefined;
  // A Redis URL may carry a password: it is never printed.
  const where = admin?.baseUrl ?? redact(redis as string);
  const signal = untilSignal();
  let registration: Registration;
  try {
    registration =
      admin === undefined
        ? await register({ ...input, redis: redis as string, ttlMs, logger: stderrLogger })
        : await registerViaAdmin({ ...input, admin, ttlMs, logger: stderrLogger });
  } catch (err) {
    printMessage(
      `cannot register ${input.service}/${input.id} at ${where}: ${(err as Error).message}`,
    );
    return 1;
  }
  process.stdout.write(
    `registered ${input.service}/${registration.id} -> ${input.url} (ttl ${ttlMs} ms) at ${where}\n`,
  );
  const received = await signal;
  await registration.stop();
  process.stdout.write(`deregistered ${input.service}/${registration.id} (${received})\n`);
  return 0;
}
