/**
 * Authenticated-route benchmark: the same route without auth, with one token every request (verification
 * cached) and with every token distinct (each verified: more tokens than the LRU cache holds, rotated by a wrk
 * Lua script). `authScenarios` feeds bench/run.ts; run this file directly for all three figures and the ratios:
 * `node --import tsx bench/auth-scenarios.ts [--duration S] [--runs N] [--connections N] [--tokens N]
 * [--alg ES256|EdDSA|RS256]`: ES256 and EdDSA tokens are edgeway's own (its key ring made with that algorithm),
 * RS256 ones an IdP's whose JWKS this process serves.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createSecurity } from '../src/security/index.js';
import { configSchema } from '../src/config/schema.js';
import { connectBackend } from '../src/store/connect.js';
import { cpuSeconds, drive, LOAD_TOOL } from './load.js';
import { startBenchUpstream, runAndExit, startGatewayProcess } from './processes.js';
import type { ScenarioGroup } from './scenarios.js';
import { median } from './median.js';
import { benchFlags } from './args.js';

const run = promisify(execFile);
const SCOPES = ['bench:read'];
/** The gateway's default token cache size (createSecurity). */
const TOKEN_CACHE_SIZE = 10_000;

const IDP = 'https://idp.bench.test/';
type TokenAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** The gateway's config: one open and one authenticated route on the same upstreams. */
function authYaml(upstreams: readonly string[], jwksUri?: string): string {
  const idp =
    jwksUri === undefined
      ? ''
      : `\n    - { issuer: '${IDP}', audience: bench, jwksUri: '${jwksUri}' }`;
  return `auth:
  issuers:
    - { issuer: edgeway, audience: bench }${idp}
services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: open, match: { path: /open }, service: bench, stripPrefix: true }
  - { name: secure, match: { path: /secure }, service: bench, stripPrefix: true, auth: { required: true, scopes: [bench:read] } }
`;
}

/** An IdP whose RS256 JWKS this process serves on loopback, and a minter of its tokens. */
async function rsaIdp() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const mint = (sub: string): Promise<string> =>
    new SignJWT({ scope: SCOPES.join(' ') })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1', typ: 'JWT' })
      .setIssuer(IDP)
      .setAudience('bench')
      .setSubject(sub)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
  return { url: `http://127.0.0.1:${port}/jwks.json`, mint, close: () => server.close() };
}

/**
 * A gateway process in embedded mode, and a minter of `alg` tokens. The key ring is made on the data dir
 * (keys.json is shared) before the gateway starts, so the gateway signs and verifies with that algorithm.
 */
async function startAuthGateway(
  upstreams: readonly string[],
  cpu: string,
  alg: TokenAlgorithm = 'ES256',
) {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeway-bench-auth-'));
  const auth = configSchema.parse({
    auth: { issuers: [{ issuer: 'edgeway', audience: 'bench' }] },
  }).auth;
  const security = await createSecurity(connectBackend(undefined, dataDir), auth, {
    signingAlgorithm: alg === 'EdDSA' ? 'EdDSA' : 'ES256',
  });
  const idp = alg === 'RS256' ? await rsaIdp() : undefined;
  const gw = await startGatewayProcess(cpu, authYaml(upstreams, idp?.url), {
    EDGEWAY_DATA_DIR: dataDir,
  });
  const mintOne = async (sub: string): Promise<string> =>
    idp !== undefined
      ? idp.mint(sub)
      : (await security.issueToken({ sub, scopes: SCOPES, ttlMs: 3_600_000 })).token;
  const mint = async (count: number): Promise<string[]> => {
    const tokens: string[] = [];
    for (let i = 0; i < count; i++) tokens.push(await mintOne(`client-${i}`));
    return tokens;
  };
  // The IdP's JWKS stays served: the gateway fetches it at the first token.
  return { gw, mint, close: () => security.close() };
}

const OPEN = 'auth: open route';
const CACHED = 'auth: cached token';

/** Scenarios for bench/run.ts: the open route and the authenticated one with one (cached) token. */
export const authGroup: ScenarioGroup = {
  scenarios: [{ name: OPEN }, { name: CACHED, versus: [OPEN] }],
  async start(ctx) {
    const { gw, mint, close } = await startAuthGateway(ctx.upstreams, ctx.proxyCpu);
    const [token] = await mint(1);
    await close();
    const base = `http://127.0.0.1:${gw.port}`;
    return {
      [OPEN]: { url: `${base}/open/item`, pid: gw.child.pid },
      [CACHED]: {
        url: `${base}/secure/item`,
        pid: gw.child.pid,
        headers: { authorization: `Bearer ${token as string}` },
      },
    };
  },
};

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
async function driveDistinct(
  url: string,
  tokenFile: string,
  seconds: number,
  connections: number,
  cpu: string,
) {
  const script = join(tmpdir(), `edgeway-rotate-${process.pid}.lua`);
  writeFileSync(script, ROTATE_LUA);
  const { stdout } = await run(
    'taskset',
    [
      '-c',
      cpu,
      'wrk',
      '-t1',
      `-c${connections}`,
      `-d${seconds}s`,
      '--latency',
      '-s',
      script,
      url,
      '--',
      tokenFile,
    ],
    { maxBuffer: 1 << 20 },
  );
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '-';
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, p99, errors };
}

async function main(): Promise<void> {
  const values = benchFlags({
    duration: 5,
    connections: 50,
    tokens: 36_000,
    runs: 3,
    alg: 'ES256',
  });
  const alg = values.alg as TokenAlgorithm;
  if (!['ES256', 'EdDSA', 'RS256'].includes(alg)) throw new Error('--alg is ES256, EdDSA or RS256');
  const { duration: seconds, connections, tokens: count, runs } = values;
  if (LOAD_TOOL !== 'wrk')
    throw new Error('the distinct-token case needs wrk (for its Lua script)');
  const perRound = Math.floor(count / runs);
  if (perRound <= TOKEN_CACHE_SIZE)
    throw new Error(`--tokens must exceed ${TOKEN_CACHE_SIZE} per run`);
  const upstreams = [await startBenchUpstream('1')];
  const { gw, mint, close } = await startAuthGateway(upstreams, '0', alg);
  const tokens = await mint(count);
  await close();
  // One file per round: a round never reuses a token an earlier round left in the cache, and each file is
  // longer than the LRU cache, so cycling through it always misses.
  const tokenFiles = Array.from({ length: runs }, (_, round) => {
    const file = join(tmpdir(), `edgeway-tokens-${process.pid}-${round}.txt`);
    writeFileSync(file, `${tokens.slice(round * perRound, (round + 1) * perRound).join('\n')}\n`);
    return file;
  });
  const base = `http://127.0.0.1:${gw.port}`;
  const pid = gw.child.pid as number;
  const cpuOf = async <T>(work: () => Promise<T>): Promise<T & { cpu: number }> => {
    const [before, started] = [cpuSeconds(pid), performance.now()];
    const result = await work();
    return { ...result, cpu: (cpuSeconds(pid) - before) / ((performance.now() - started) / 1000) };
  };
  const auth = { authorization: `Bearer ${tokens[0] as string}` };
  await drive(`${base}/secure/item`, 1, connections, '1', auth);
  const rows: Record<
    'open' | 'cached' | 'distinct',
    Array<{ rps: number; p99: string; cpu: number; errors: number }>
  > = { open: [], cached: [], distinct: [] };
  // Interleaved rounds: a noisy neighbour then slows every case alike instead of one.
  for (let round = 0; round < runs; round++) {
    const open = await cpuOf(() => drive(`${base}/open/item`, seconds, connections, '1'));
    rows.open.push({ ...open, p99: `${open.p99Ms.toFixed(2)}ms` });
    const cached = await cpuOf(() => drive(`${base}/secure/item`, seconds, connections, '1', auth));
    rows.cached.push({ ...cached, p99: `${cached.p99Ms.toFixed(2)}ms` });
    rows.distinct.push(
      await cpuOf(() =>
        driveDistinct(
          `${base}/secure/item`,
          tokenFiles[round] as string,
          seconds,
          connections,
          '1',
        ),
      ),
    );
  }
  const summary = Object.fromEntries(
    Object.entries(rows).map(([name, list]) => {
      const rps = median(list.map((r) => r.rps));
      const cpu = median(list.map((r) => r.cpu));
      return [
        name,
        {
          rps,
          cpu,
          perCore: median(list.map((r) => r.rps / r.cpu)),
          p99: list.map((r) => r.p99).join('/'),
          errors: list.reduce((a, r) => a + r.errors, 0),
        },
      ];
    }),
  ) as Record<
    'open' | 'cached' | 'distinct',
    { rps: number; cpu: number; perCore: number; p99: string; errors: number }
  >;
  console.log(
    `\nedgeway auth bench (${alg} tokens): wrk c=${connections}, ${runs} runs x ${seconds}s (medians), gateway pinned to CPU 0, ${perRound} distinct tokens per run (LRU cache holds ${TOKEN_CACHE_SIZE})\n`,
  );
  for (const [name, s] of Object.entries(summary)) {
    console.log(
      `${name.padEnd(10)}${s.rps.toFixed(0).padStart(8)} req/s  cpu ${s.cpu.toFixed(2)}  ${s.perCore.toFixed(0).padStart(6)} req/s/core  errors ${s.errors}  p99 ${s.p99}`,
    );
  }
  const ratio = (a: number, b: number): string => (a / b).toFixed(2);
  console.log(
    `\ncached / open: ${ratio(summary.cached.rps, summary.open.rps)}x req/s, ${ratio(summary.cached.perCore, summary.open.perCore)}x per core (target >= 0.9x)`,
  );
  console.log(
    `distinct / open: ${ratio(summary.distinct.rps, summary.open.rps)}x req/s, ${ratio(summary.distinct.perCore, summary.open.perCore)}x per core`,
  );
}

if (process.argv[1]?.endsWith('auth-scenarios.ts')) {
  runAndExit(main);
}
