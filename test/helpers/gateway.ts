/** Starts an in-process gateway on a config the test writes, with free ports and a silent logger. */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { Gateway } from '../../src/server/gateway.js';
import type { TracingOptions } from '../../src/telemetry/tracing/otel.js';

/** A gateway under test and the folder holding its config. */
export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly adminUrl: string;
  readonly configDir: string;
  /** Access-log lines written so far (JSON). */
  readonly accessLines: string[];
  /** Overwrites one config file (relative to the config folder). */
  write(file: string, yaml: string): void;
  stop(): Promise<void>;
}

/** Writes `files` into a fresh folder and starts a gateway on it (ports 0, no file watch unless asked). */
export async function startGateway(
  files: Record<string, string>,
  options: {
    redisUrl?: string;
    watch?: boolean;
    adminToken?: string;
    tracing?: TracingOptions;
    logger?: Logger;
  } = {},
): Promise<TestGateway> {
  const configDir = mkdtempSync(join(tmpdir(), 'edgeway-test-'));
  const write = (file: string, yaml: string): void => writeFileSync(join(configDir, file), yaml);
  for (const [file, yaml] of Object.entries(files)) write(file, yaml);
  const accessLines: string[] = [];
  const gateway = await Gateway.start({
    configPath: configDir,
    port: 0,
    adminPort: 0,
    redisUrl: options.redisUrl,
    adminToken: options.adminToken,
    dataDir: join(configDir, '.data'),
    logger: options.logger ?? pino({ level: 'silent' }),
    accessLog: {
      destination: { write: (line: string) => void accessLines.push(line) },
      minLength: 0,
    },
    watch: options.watch ?? false,
    ...(options.tracing === undefined ? {} : { tracing: options.tracing }),
  });
  return {
    gateway,
    url: `http://127.0.0.1:${gateway.port}`,
    adminUrl: `http://127.0.0.1:${gateway.adminPort}`,
    configDir,
    accessLines,
    write,
    stop: async () => {
      await gateway.stop();
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}

/** A minimal config: one static service `svc` at `upstreams` and the given routes YAML. */
export function serviceYaml(name: string, upstreams: readonly string[], extra = ''): string {
  return `services:\n  ${name}:\n    instances: [${upstreams.join(', ')}]\n    loadBalancer: { policy: round-robin }\n${extra}`;
}

/** A `discovery: redis` service `orders` (round-robin) behind route `orders` on /orders, plus `extraRoutes` YAML. */
export function discoveredOrdersYaml(
  options: { stripPrefix?: boolean; extraRoutes?: string } = {},
): string {
  return `services:
  orders:
    discovery: redis
    loadBalancer: { policy: round-robin }
routes:
  - { name: orders, match: { path: /orders }, service: orders, stripPrefix: ${options.stripPrefix ?? false} }
${options.extraRoutes ?? ''}`;
}
