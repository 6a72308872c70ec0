/**
 * Edgeway's full path, every feature on: a required JWT (one token, so its verification is cached), a Redis
 * token bucket whose limit is never reached, and every request traced (always_on) to an OTLP/protobuf
 * receiver; access log and metrics on, as shipped. bench/run.ts measures it beside the references and
 * bench/stage-profile.ts profiles it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createSecurity } from '../src/security/index.js';
import { configSchema } from '../src/config/schema.js';
import { closeBackend, connectBackend } from '../src/store/connect.js';
import { benchRedis } from './discovery-scenarios.js';
import { startGatewayProcess, startOtlpReceiver } from './processes.js';

const ISSUER = { issuer: 'edgeway', audience: 'bench' };

function config(upstreams: readonly string[]): string {
  return `auth:
  issuers:
    - { issuer: ${ISSUER.issuer}, audience: ${ISSUER.audience} }
services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - name: full
    match: { path: /full }
    service: bench
    stripPrefix: true
    auth: { required: true, scopes: [bench:read] }
    rateLimit: { capacity: 1000000000, refillPerSecond: 1000000000, key: route }
`;
}

/** The running full-path gateway: where to send load and the header it needs. */
export interface FullPath {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly child: ChildProcess;
}

/** Starts the full-path gateway on `proxyCpu` (Redis and the OTLP receiver on `otherCpu`); `nodeArgs` go to node. */
export async function startFullPath(
  upstreams: readonly string[],
  proxyCpu: string,
  otherCpu: string,
  nodeArgs: string[] = [],
): Promise<FullPath> {
  const redis = await benchRedis();
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeway-bench-full-'));
  const gw = await startGatewayProcess(
    proxyCpu,
    config(upstreams),
    {
      EDGEWAY_DATA_DIR: dataDir,
      OTEL_EXPORTER_OTLP_ENDPOINT: await startOtlpReceiver(otherCpu),
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_TRACES_SAMPLER: 'always_on',
    },
    ['--redis', redis],
    nodeArgs,
  );
  // Minted with the gateway's own signing key, which lives in the same Redis.
  const backend = connectBackend(redis, dataDir);
  const security = await createSecurity(
    backend,
    configSchema.parse({ auth: { issuers: [ISSUER] } }).auth,
  );
  const { token } = await security.issueToken({
    sub: 'bench-client',
    scopes: ['bench:read'],
    ttlMs: 3_600_000,
  });
  await security.close();
  await closeBackend(backend);
  return {
    url: `http://127.0.0.1:${gw.port}/full/item`,
    headers: { authorization: `Bearer ${token}` },
    child: gw.child,
  };
}
