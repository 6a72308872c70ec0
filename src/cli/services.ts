/** `edgeway services`: prints the services and instances a gateway sees, from its admin API. */
import type { InstanceStatus, ServiceStatus } from '../admin/services-api.js';
import { adminClient, adminUrl, errorMessage, unreachable } from './admin-client.js';
import { parseCommand, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  usage: 'edgeway services [--admin URL] [--json]',
  summary: 'Lists services and instances with health, weight, in-flight and latency, as GET /admin/services of the gateway at --admin (default http://127.0.0.1:9901; token from EDGEWAY_ADMIN_TOKEN) reports them.',
  options: { admin: { type: 'string' }, json: { type: 'boolean' } },
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

/** The table `edgeway services` prints: one row per instance, a dash row for a service without any. */
export function formatServices(services: readonly ServiceStatus[], now: number = Date.now()): string {
  const header = ['SERVICE', 'INSTANCE', 'URL', 'HEALTH', 'WEIGHT', 'IN-FLIGHT', 'LATENCY', 'EXPIRES'];
  const rows: string[][] = [header];
  for (const service of services) {
    const name = service.configured ? service.name : `${service.name} (not in config)`;
    if (service.instances.length === 0) rows.push([name, '-', '-', 'no instances', '-', '-', '-', '-']);
    for (const i of service.instances) {
      const latency = i.latencyMs === null ? '-' : `${i.latencyMs}ms`;
      rows.push([name, i.id, i.url, health(i), String(i.weight), String(i.inFlight), latency, expires(i, now)]);
    }
  }
  const widths = header.map((_, col) => Math.max(...rows.map((row) => (row[col] as string).length)));
  return rows.map((row) => row.map((cell, col) => cell.padEnd(widths[col] as number)).join('  ').trimEnd()).join('\n') + '\n';
}

/** Runs the command: 0 when the table was printed, 1 when the gateway could not be asked. */
export async function servicesCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  const admin = adminClient(adminUrl(flags.admin));
  let response: Response;
  try {
    response = await admin.request('GET', '/admin/services');
  } catch (err) {
    process.stderr.write(`edgeway services: cannot reach ${admin.baseUrl}: ${unreachable(err)}\n`);
    return 1;
  }
  if (!response.ok) {
    process.stderr.write(`edgeway services: ${admin.baseUrl} answered ${await errorMessage(response)}\n`);
    return 1;
  }
  const { services } = (await response.json()) as { services: ServiceStatus[] };
  process.stdout.write(flags.json === true ? `${JSON.stringify(services, null, 2)}\n` : formatServices(services));
  return 0;
}
