/** `edgeway services`: prints the services and instances a gateway sees, from its admin API, else from the Redis registry. */
import { fromRecord, type InstanceStatus, type ServiceStatus } from '../admin/services-api.js';
import { groupReadReply } from '../discovery/record-codec.js';
import { defineRegistryCommands, REGISTRY_KEYS } from '../discovery/registry-scripts.js';
import { createRedisClient, parseRedisUrl, redact } from '../store/redis-url.js';
import { adminClient, adminUrl, AdminUnreachableError, errorMessage } from './admin-client.js';
import {
  ADMIN_OPTION,
  CommandError,
  CONFIG_OPTION,
  JSON_OPTION,
  parseCommand,
  printMessage,
  REDIS_OPTION,
  redisUrl,
  type CommandSpec,
} from './args.js';
import { commandConfig } from './command-config.js';

const spec: CommandSpec = {
  usage: 'edgeway services [--admin URL] [--config PATH] [--redis URL] [--json]',
  summary:
    'Lists services and instances with health, weight, in-flight and latency, as GET /admin/services of the gateway reports them. ' +
    'When that gateway cannot be reached and Redis is configured, lists what the Redis registry holds instead (health, in-flight and latency are a gateway\'s to know, so HEALTH says "registered").',
  options: { admin: ADMIN_OPTION, config: CONFIG_OPTION, redis: REDIS_OPTION, json: JSON_OPTION },
};

function health(instance: InstanceStatus): string {
  if (instance.draining) return 'draining';
  if (instance.ejected) return 'ejected';
  if (instance.healthy === null) return 'unrouted';
  return instance.healthy ? 'healthy' : 'unhealthy';
}

function expires(instance: InstanceStatus, now: number): string {
  if (instance.expiresAt === null) return 'static';
  return `${Math.max(0, Math.round((instance.expiresAt - now) / 1000))}s`;
}

/**
 * The table `edgeway services` prints: one row per instance, a dash row for a service without any.
 * `fromRegistry`: the rows come from Redis, not a gateway, so health is "registered" (or "draining").
 */
export function formatServices(
  services: readonly ServiceStatus[],
  now: number = Date.now(),
  fromRegistry = false,
): string {
  const header = [
    'SERVICE',
    'INSTANCE',
    'URL',
    'HEALTH',
    'WEIGHT',
    'IN-FLIGHT',
    'LATENCY',
    'EXPIRES',
  ];
  const rows: string[][] = [header];
  for (const service of services) {
    const name = service.configured ? service.name : `${service.name} (not in config)`;
    if (service.instances.length === 0)
      rows.push([name, '-', '-', 'no instances', '-', '-', '-', '-']);
    for (const i of service.instances) {
      const latency = i.latencyMs === null ? '-' : `${i.latencyMs}ms`;
      const state = fromRegistry ? (i.draining ? 'draining' : 'registered') : health(i);
      rows.push([
        name,
        i.id,
        i.url,
        state,
        String(i.weight),
        fromRegistry ? '-' : String(i.inFlight),
        latency,
        expires(i, now),
      ]);
    }
  }
  const widths = header.map((_, col) =>
    Math.max(...rows.map((row) => (row[col] as string).length)),
  );
  return (
    rows
      .map((row) =>
        row
          .map((cell, col) => cell.padEnd(widths[col] as number))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** Every service the config defines or Redis holds instances of, read straight from the registry. */
async function registryServices(
  url: string,
  configured: ReadonlySet<string>,
): Promise<ServiceStatus[]> {
  const client = createRedisClient(parseRedisUrl(url));
  // A one-shot command reports an unreachable Redis once, as its failure, not as a stream of error events.
  client.on('error', () => {});
  try {
    const reply = await defineRegistryCommands(client).registryRead(...REGISTRY_KEYS, '');
    const byService = groupReadReply(reply, (member, problem) =>
      printMessage(`skipping ${member}: ${problem}`),
    );
    return [...new Set([...configured, ...byService.keys()])].sort().map((name) => ({
      name,
      configured: configured.has(name),
      discovery: 'redis',
      instances: (byService.get(name) ?? []).map(fromRecord),
    }));
  } catch (err) {
    throw new CommandError(`cannot read the registry at ${redact(url)}: ${(err as Error).message}`);
  } finally {
    client.disconnect();
  }
}

/** The services the config discovers through the registry (its static ones are no registry's business). */
function discoveredServices(configFlag: unknown): Set<string> {
  const services = Object.entries(commandConfig(configFlag).services);
  return new Set(
    services.filter(([, service]) => service.discovery === 'redis').map(([name]) => name),
  );
}

/** Asks the gateway; undefined when it cannot be reached and Redis can answer instead. */
async function gatewayServices(
  baseUrl: string,
  redis: string | undefined,
): Promise<ServiceStatus[] | undefined> {
  const admin = adminClient(baseUrl);
  let response: Response;
  try {
    response = await admin.request('GET', '/admin/services');
  } catch (err) {
    if (!(err instanceof AdminUnreachableError)) throw err;
    if (redis === undefined)
      throw new CommandError(`cannot reach the gateway's admin API: ${err.message}`);
    printMessage(
      `cannot reach the gateway's admin API (${err.message}); listing the Redis registry at ${redact(redis)}`,
    );
    return undefined;
  }
  if (!response.ok)
    throw new CommandError(`${admin.baseUrl} answered ${await errorMessage(response)}`);
  return ((await response.json()) as { services: ServiceStatus[] }).services;
}

/** Runs the command: 0 when the table was printed, 1 (CommandError) when neither the gateway nor Redis could be asked. */
export async function servicesCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  const redis = redisUrl(flags.redis);
  const reported = await gatewayServices(adminUrl(flags), redis);
  const services =
    reported ?? (await registryServices(redis as string, discoveredServices(flags.config)));
  process.stdout.write(
    flags.json === true
      ? `${JSON.stringify(services, null, 2)}\n`
      : formatServices(services, Date.now(), reported === undefined),
  );
  return 0;
}
