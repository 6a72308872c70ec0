/**
 * Authenticated-route benchmark: the same route without auth, with one token every request (verification
 * cached) and with every token distinct (each verified: more tokens than the LRU cache holds, rotated by a wrk
 * Lua script). `authScenarios` feeds bench/run.ts; run this file directly for all three figures and the ratios:
 * `node --import tsx bench/auth-scenarios.ts [--duration S] [--connections N] [--tokens N]`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { createSecurity } from '../src/security/index.js';
import { configSchema } from '../src/config/schema.js';
import { connectBackend } from '../src/store/connect.js';
import { cpuSeconds, drive, LOAD_TOOL } from './load.js';
import { startBenchUpstream, startGatewayProcess, stopAll } from './processes.js';
import type { Scenario, ScenarioContext } from './scenarios.js';

const run = promisify(execFile);
const SCOPES = ['bench:read'];

/** The gateway's config: one open and one authenticated route on the same upstreams. */
function authYaml(upstreams: readonly string[]): string {
  return `auth:
  issuers:
    - { issuer: edgeway, audience: bench }
services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: open, match: { path: /open }, service: bench, stripPrefix: true }
  - { name: secure, match: { path: /secure }, service: bench, stripPrefix: true, auth: { required: true, scopes: [bench:read] } }
`;
}

/** A gateway process in embedded mode, and a minter on its data dir (keys.json is shared). */
async function startAuthGateway(upstreams: readonly string[], cpu: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeway-bench-auth-'));
  const gw = await startGatewayProcess(cpu, authYaml(upstreams), { EDGEWAY_DATA_DIR: dataDir });
  const auth = configSchema.parse({ auth: { issuers: [{ issuer: 'edgeway', audience: 'bench' }] } }).auth;
  const security = await createSecurity(connectBackend(undefined, dataDir), auth);
  const mint = async (count: number): Promise<string[]> => {
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) tokens.push((await security.issueToken({ sub: `client-${i}`, scopes: SCOPES, ttlMs: 3_600_000 })).token);
    return tokens;
  };
  return { gw, mint, close: () => security.close() };
}

/** Scenarios for bench/run.ts: the open route and the authenticated one with one (cached) token. */
export async function authScenarios(ctx: ScenarioContext): Promise<Scenario[]> {
  const { gw, mint, close } = await startAuthGateway(ctx.upstreams, ctx.proxyCpu);
  const [token] = await mint(1);
  await close();
  const base = `http://127.0.0.1:${gw.port}`;
  return [
    { name: 'auth: open route', url: `${base}/open/item`, pid: gw.child.pid },
    { name: 'auth: cached token', url: `${base}/secure/item`, pid: gw.child.pid, headers: { authorization: `Bearer ${token as string}` } },
  ];
}

/** wrk script rotating the Authorization header through the token file given as the script argument. */
const ROTATE_LUA = `local tokens = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = "Bearer " .. line end
end
function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = tokens[i] })
end
`;

/** wrk with the rotating script; req/s, p99 and non-2xx count. */
async function driveDistinct(url: string, tokenFile: string, seconds: number, connections: number, cpu: string) {
  const script = join(tmpdir(), `edgeway-rotate-${process.pid}.lua`);
  writeFileSync(script, ROTATE_LUA);
  const { stdout } = await run('taskset', ['-c', cpu, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url, '--', tokenFile], { maxBuffer: 1 << 20 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '-';
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, p99, errors };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, tokens: { type: 'string', default: '20000' } } });
  const [seconds, connections, count] = [Number(values.duration), Number(values.connections), Number(values.tokens)];
  if (LOAD_TOOL !== 'wrk') throw new Error('the distinct-token case needs wrk (for its Lua script)');
  const upstreams = [await startBenchUpstream('1')];
  const { gw, mint, close } = await startAuthGateway(upstreams, '0');
  const tokens = await mint(count);
  await close();
  const tokenFile = join(tmpdir(), `edgeway-tokens-${process.pid}.txt`);
  writeFileSync(tokenFile, `${tokens.join('\n')}\n`);
  const base = `http://127.0.0.1:${gw.port}`;
  const pid = gw.child.pid as number;
  const cpuOf = async <T>(work: () => Promise<T>): Promise<T & { cpu: number }> => {
    const [before, started] = [cpuSeconds(pid), performance.now()];
    const result = await work();
    return { ...result, cpu: (cpuSeconds(pid) - before) / ((performance.now() - started) / 1000) };
  };
  const auth = { authorization: `Bearer ${tokens[0] as string}` };
  await drive(`${base}/secure/item`, 1, connections, '1', auth);
  const open = await cpuOf(() => drive(`${base}/open/item`, seconds, connections, '1'));
  const cached = await cpuOf(() => drive(`${base}/secure/item`, seconds, connections, '1', auth));
  const distinct = await cpuOf(() => driveDistinct(`${base}/secure/item`, tokenFile, seconds, connections, '1'));
  console.log(`\nedgeway auth bench: wrk c=${connections}, ${seconds}s each, gateway pinned to CPU 0, ${count} distinct tokens (LRU cache holds 10000)\n`);
  const line = (name: string, rps: number, p99: string, cpu: number, errors: number): void =>
    console.log(`${name.padEnd(28)}${rps.toFixed(0).padStart(9)} req/s  p99 ${p99.padStart(9)}  cpu ${cpu.toFixed(2)}  errors ${errors}`);
  line('open route', open.rps, `${open.p99Ms.toFixed(2)}ms`, open.cpu, open.errors);
  line('cached token', cached.rps, `${cached.p99Ms.toFixed(2)}ms`, cached.cpu, cached.errors);
  line('distinct tokens', distinct.rps, distinct.p99, distinct.cpu, distinct.errors);
  console.log(`\ncached / open = ${(cached.rps / open.rps).toFixed(2)}x (target >= 0.9x); distinct / open = ${(distinct.rps / open.rps).toFixed(2)}x`);
}

if (process.argv[1]?.endsWith('auth-scenarios.ts')) {
  main().then(
    () => {
      stopAll();
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      stopAll();
      process.exit(1);
    },
  );
}
