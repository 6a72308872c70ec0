/** `edgeway start`: runs the gateway until SIGINT/SIGTERM, then drains and exits 0; `--workers N` runs N of them under node:cluster. */
import cluster from 'node:cluster';
import { formatDiagnostic } from '../config/diagnostic.js';
import { loadAndCompileWithPlugins } from '../plugins/compile.js';
import { checkOnly } from '../pipeline/compile-checks.js';
import { Gateway, StartError } from '../server/gateway.js';
import { runWorker, workerHooks, workerIndex } from '../server/cluster-worker.js';
import { parseWorkerCount, runPrimary } from '../server/workers.js';
import { parseRedisUrl, RedisUrlError } from '../store/redis-url.js';
import { createAppLogger } from '../telemetry/access-log.js';
import { guardProcess } from '../telemetry/process-guard.js';
import {
  ADMIN_PORT_OPTION,
  CONFIG_OPTION,
  configPath,
  dataDir,
  parseCommand,
  PORT_OPTION,
  portFlag,
  REDIS_OPTION,
  redisUrl,
  UsageError,
  type CommandSpec,
} from './args.js';

const spec: CommandSpec = {
  usage:
    'edgeway start [--config PATH] [--port N] [--admin-port N] [--redis URL] [--workers N|auto]',
  summary:
    'Runs the gateway. Without --redis or REDIS_URL it runs on an embedded in-memory store (one instance). --workers forks N gateway processes sharing the port (needs Redis); SIGHUP reloads the config and TLS certificates (under --workers: restarts the workers one at a time).',
  options: {
    config: CONFIG_OPTION,
    port: PORT_OPTION,
    'admin-port': ADMIN_PORT_OPTION,
    redis: REDIS_OPTION,
    workers: {
      type: 'string',
      value: 'N|auto',
      help: 'gateway processes sharing the port (auto: one per CPU; needs Redis)',
      default: '1',
    },
  },
};

const logger = createAppLogger();

/** Margin on top of the config's shutdownTimeout before the primary kills a worker that has not drained, ms. */
const STOP_MARGIN_MS = 5000;

/** Runs the command; resolves with the exit code once the gateway (or every worker) has stopped. */
export async function startCommand(argv: string[]): Promise<number> {
  const flags = parseCommand(spec, argv);
  if (flags === undefined) return 0;
  const url = redisUrl(flags.redis);
  if (url !== undefined) {
    try {
      parseRedisUrl(url);
    } catch (err) {
      if (!(err instanceof RedisUrlError)) throw err;
      process.stderr.write(`edgeway: ${err.message}\n`);
      return 1;
    }
  }
  guardProcess(logger);
  const workers = typeof flags.workers === 'string' ? parseWorkerCount(flags.workers) : 1;
  if (workers === undefined)
    throw new UsageError('--workers must be a number from 1 to 64, or auto');
  if (cluster.isPrimary && workers > 1) return startPrimary(flags, workers, url);

  const index = workerIndex();
  const hooks = index === undefined ? undefined : workerHooks(index);
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      configPath: configPath(flags.config),
      port: portFlag(flags.port, 'port'),
      // Under --workers only worker 1 serves the admin port; the others bind an ephemeral one (see workers.ts).
      adminPort:
        index === undefined || index === 1 ? portFlag(flags['admin-port'], 'admin-port') : 0,
      redisUrl: url,
      adminToken: process.env.EDGEWAY_ADMIN_TOKEN || undefined,
      dataDir: dataDir(),
      logger,
      ...hooks?.options,
    });
  } catch (err) {
    // A worker that cannot start must exit (the open IPC channel would keep it alive) so the primary sees the failure.
    if (cluster.isWorker) process.disconnect();
    if (err instanceof StartError) {
      for (const d of err.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      process.stderr.write(`edgeway: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (hooks !== undefined)
    return runWorker(gateway, hooks.metrics, logger.child({ worker: index }));
  logger.info(
    { port: gateway.port, adminPort: gateway.adminPort, store: gateway.backend.kind },
    'edgeway listening',
  );
  // SIGHUP's default action ends the process; operators send it to reload, as with nginx or HAProxy.
  const onHangup = (): void => {
    logger.info('SIGHUP: reloading the config and TLS certificates');
    gateway.hangup();
  };
  process.on('SIGHUP', onHangup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.off('SIGHUP', onHangup);
  logger.info({ signal }, 'draining');
  await gateway.stop();
  logger.info('stopped');
  return 0;
}

/** Checks what the workers would need (Redis, a valid config) before forking any. */
async function startPrimary(
  flags: Record<string, string | boolean | undefined>,
  workers: number,
  url: string | undefined,
): Promise<number> {
  if (url === undefined) {
    process.stderr.write(
      `edgeway: --workers ${workers} needs a shared store: the embedded in-memory store serves one process only. Pass --redis URL (or set REDIS_URL), or run with --workers 1.\n`,
    );
    return 1;
  }
  const loaded = await loadAndCompileWithPlugins(configPath(flags.config), checkOnly);
  if (!loaded.ok) {
    for (const d of loaded.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    process.stderr.write('edgeway: invalid config\n');
    return 1;
  }
  return runPrimary({
    count: workers,
    stopTimeoutMs: loaded.config.gateway.shutdownTimeout + STOP_MARGIN_MS,
    logger: logger.child({ primary: process.pid }),
  });
}
