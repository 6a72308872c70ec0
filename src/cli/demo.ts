/** `edgeway demo`: the gateway on the example config, two demo upstreams that register themselves, and curl lines to try. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gateway, StartError } from '../server/gateway.js';
import { formatDiagnostic } from '../config/diagnostic.js';
import { createAppLogger } from '../telemetry/access-log.js';
import { adminClient } from './admin-client.js';
import {
  ADMIN_PORT_OPTION,
  CONFIG_OPTION,
  configPath,
  dataDir,
  parseCommand,
  PORT_OPTION,
  portFlag,
  printMessage,
  REDIS_OPTION,
  redisUrl,
  type CommandSpec,
} from './args.js';
import { demoUpstreamCommand } from './demo-upstream.js';
import { untilSignal } from './register.js';

const spec: CommandSpec = {
  usage: 'edgeway demo [--config PATH] [--port N] [--admin-port N] [--redis URL]',
  summary:
    'Starts the gateway on the example config (routes/) with two demo upstream instances of service "echo" that register themselves, prints a token and curl lines; Ctrl-C stops everything.',
  options: {
    config: { ...CONFIG_OPTION, default: '$EDGEWAY_CONFIG, else the example routes/' },
    port: PORT_OPTION,
    'admin-port': ADMIN_PORT_OPTION,
    redis: REDIS_OPTION,
  },
};

const logger = createAppLogger();

/** The example config's discovered service and its routes. */
const DEMO_SERVICE = 'echo';
const DEMO_INSTANCES = ['demo-1', 'demo-2'];
const READY_TIMEOUT_MS = 15_000;

/** The example config: --config / EDGEWAY_CONFIG, else routes/ here, else the one shipped next to this package. */
function demoConfig(flag: unknown): string {
  if (typeof flag === 'string' || process.env.EDGEWAY_CONFIG) return configPath(flag);
  if (existsSync(join('routes', 'example.yaml'))) return 'routes';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'routes', 'example.yaml'))) return join(dir, 'routes');
  }
  return 'routes';
}

function spawnUpstream(name: string, admin: string): ChildProcess {
  const child = spawn(process.execPath, [...demoUpstreamCommand(), DEMO_SERVICE, name, admin], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout?.setEncoding('utf8');
  child.on('exit', (code, signal) => {
    if (code !== 0) logger.warn({ instance: name, code, signal }, 'demo upstream exited');
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Waits until every demo instance is in the registry, or a deadline. */
async function registered(gateway: Gateway): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const ids = new Set(gateway.registry.list(DEMO_SERVICE).map((record) => record.id));
    if (DEMO_INSTANCES.every((id) => ids.has(id))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** A token for the private route from `POST /admin/tokens`, or undefined where the gateway does not issue them. */
async function demoToken(admin: string): Promise<string | undefined> {
  try {
    const response = await adminClient(admin).request('POST', '/admin/tokens', {
      sub: 'demo',
      scopes: ['echo:read'],
      ttl: '1h',
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return ((await response.json()) as { token?: string }).token;
  } catch {
    return undefined;
  }
}

function banner(publicUrl: string, admin: string, token: string | undefined): string {
  const lines = [
    '',
    `edgeway demo: gateway ${publicUrl}, admin ${admin}, service "${DEMO_SERVICE}" with instances ${DEMO_INSTANCES.join(', ')}`,
    '',
    'Try:',
    `  curl -i ${publicUrl}/echo/hello`,
    `  curl -s ${admin}/admin/services`,
  ];
  if (token !== undefined) {
    lines.push(`  curl -i -H 'authorization: Bearer ${token}' ${publicUrl}/private/hello`);
  } else {
    lines.push(`  curl -i ${publicUrl}/private/hello    # 401 without a token`);
    lines.push(
      `  # a token for /private: TOKEN=$(edgeway token issue --sub demo --scope "echo:read")`,
    );
    lines.push(`  #   then: curl -i -H "authorization: Bearer $TOKEN" ${publicUrl}/private/hello`);
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}

/** Runs the demo until SIGINT/SIGTERM; stops the upstreams (they deregister), then the gateway. */
export async function demoCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  const signal = untilSignal();
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      configPath: resolve(demoConfig(flags.config)),
      port: portFlag(flags.port, 'port'),
      adminPort: portFlag(flags['admin-port'], 'admin-port'),
      redisUrl: redisUrl(flags.redis),
      adminToken: process.env.EDGEWAY_ADMIN_TOKEN || undefined,
      dataDir: dataDir(),
      logger,
    });
  } catch (err) {
    if (!(err instanceof StartError)) throw err;
    for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    printMessage(err.message);
    return 1;
  }
  const admin = `http://127.0.0.1:${gateway.adminPort}`;
  const children = DEMO_INSTANCES.map((name) => spawnUpstream(name, admin));
  let interrupted = false;
  const early = signal.then(() => {
    interrupted = true;
    return false;
  });
  const ready = await Promise.race([registered(gateway), early]);
  if (ready) {
    process.stdout.write(banner(`http://127.0.0.1:${gateway.port}`, admin, await demoToken(admin)));
    await signal;
  } else if (!interrupted) {
    printMessage('the demo upstreams did not register; stopping');
  }
  await Promise.all(children.map(stopChild));
  await gateway.stop();
  return ready || interrupted ? 0 : 1;
}
