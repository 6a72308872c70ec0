/** `edgeway start`: runs the gateway until SIGINT/SIGTERM, then drains and exits 0. */
import { formatDiagnostic } from '../config/diagnostic.js';
import { Gateway, StartError } from '../server/gateway.js';
import { logger } from '../telemetry/access-log.js';
import { configPath, dataDir, parseCommand, portFlag, redisUrl, type CommandSpec } from './args.js';

const spec: CommandSpec = {
  usage: 'edgeway start [--config PATH] [--port N] [--admin-port N] [--redis URL] [--workers N]',
  summary: 'Runs the gateway. Without --redis or REDIS_URL it runs on an embedded in-memory store (one instance).',
  options: {
    config: { type: 'string' },
    port: { type: 'string' },
    'admin-port': { type: 'string' },
    redis: { type: 'string' },
    workers: { type: 'string' },
  },
};

/** Runs the command; resolves with the exit code once the gateway has stopped. */
export async function startCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      configPath: configPath(flags.config),
      port: portFlag(flags.port, 'port'),
      adminPort: portFlag(flags['admin-port'], 'admin-port'),
      redisUrl: redisUrl(flags.redis),
      adminToken: process.env.EDGEWAY_ADMIN_TOKEN || undefined,
      dataDir: dataDir(),
      logger,
    });
  } catch (err) {
    if (err instanceof StartError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      process.stderr.write(`edgeway: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  logger.info({ port: gateway.port, adminPort: gateway.adminPort, store: gateway.backend.kind }, 'edgeway listening');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  logger.info({ signal }, 'draining');
  await gateway.stop();
  logger.info('stopped');
  return 0;
}
