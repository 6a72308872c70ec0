/**
 * In-process cost of one bearer-token verification with no cache hit, per algorithm: edgeway's own ES256
 * and EdDSA keys, and an IdP's RS256 key from a JWKS on loopback. Every token is distinct, so each call
 * pays the signature check and the cache and revocation bookkeeping the gateway pays on a miss.
 * `node --import tsx bench/token-verify.ts [--tokens N] [--runs N] [--profile PREFIX] [--baseline DIR]`.
 * --profile: the first timed round of each algorithm is CPU-profiled into PREFIX-<alg>.cpuprofile.
 * --baseline: a checkout of another version (e.g. `git archive main src | tar -x -C DIR`, with a node_modules
 * link) is loaded into the same process and timed in interleaved rounds, for a paired before/after ratio.
 */
import { createServer } from 'node:http';
import { Session } from 'node:inspector/promises';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { configSchema } from '../src/config/schema.js';
import { createSecurity, type Security } from '../src/security/index.js';
import type { SigningAlgorithm } from '../src/security/key-records.js';
import { benchFlags } from './args.js';
import { median } from './median.js';

const IDP = 'https://idp.bench.test/';

/** A JWKS endpoint serving one RS256 key, and a minter of IdP tokens signed with it. */
async function rsaIdp() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const mint = (i: number): Promise<string> =>
    new SignJWT({ scope: 'bench:read' })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1', typ: 'JWT' })
      .setIssuer(IDP)
      .setAudience('bench')
      .setSubject(`client-${i}`)
      .setJti(`jti-${i}`)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
  return { url: `http://127.0.0.1:${port}/jwks.json`, mint, close: () => server.close() };
}

type CreateSecurity = typeof createSecurity;

async function openSecurity(
  create: CreateSecurity,
  dataDir: string,
  jwksUri: string,
  signingAlgorithm: SigningAlgorithm,
): Promise<Security> {
  const { auth } = configSchema.parse({
    auth: {
      issuers: [
        { issuer: 'edgeway', audience: 'bench' },
        { issuer: IDP, audience: 'bench', jwksUri },
      ],
    },
  });
  return create({ kind: 'memory', dataDir }, auth, { signingAlgorithm });
}

/** µs of wall time and of CPU (all threads: WebCrypto runs on the thread pool) per authenticate(). */
async function timeAll(security: Security, tokens: readonly string[]) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const token of tokens) await security.authenticate(`Bearer ${token}`, '192.0.2.1');
  const wallUs = ((performance.now() - started) * 1000) / tokens.length;
  const used = process.cpuUsage(cpu);
  return { wallUs, cpuUs: (used.user + used.system) / tokens.length };
}

interface Case {
  readonly name: string;
  readonly variant: string;
  readonly security: Security;
  /** Distinct tokens per round; round 0 warms up. */
  readonly rounds: string[][];
  readonly dir: string;
}

async function main(): Promise<void> {
  const values = benchFlags({ tokens: 2000, runs: 9, profile: null, baseline: null });
  const { tokens: count, runs } = values;
  const variants: Array<[string, CreateSecurity]> = [['this', createSecurity]];
  if (values.baseline !== undefined) {
    const other = (await import(join(values.baseline, 'src/security/index.ts'))) as {
      createSecurity: CreateSecurity;
    };
    variants.push(['baseline', other.createSecurity]);
  }
  const idp = await rsaIdp();
  const cases: Case[] = [];
  for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
    for (const [variant, create] of variants) {
      const dir = mkdtempSync(join(tmpdir(), 'edgeway-bench-verify-'));
      const security = await openSecurity(
        create,
        dir,
        idp.url,
        alg === 'EdDSA' ? 'EdDSA' : 'ES256',
      );
      const mint =
        alg === 'RS256'
          ? idp.mint
          : async (i: number) =>
              (
                await security.issueToken({
                  sub: `client-${i}`,
                  scopes: ['bench:read'],
                  ttlMs: 3.6e6,
                })
              ).token;
      const rounds: string[][] = [];
      for (let round = 0; round < runs + 1; round++) {
        const tokens: string[] = [];
        for (let i = 0; i < count; i++) tokens.push(await mint(round * count + i));
        rounds.push(tokens);
      }
      cases.push({ name: alg, variant, security, rounds, dir });
    }
  }
  const session = new Session();
  if (values.profile !== undefined) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
  }
  const results = new Map<string, Array<{ wallUs: number; cpuUs: number }>>();
  // Round 0 warms the JIT and fetches the JWKS. Rounds interleave algorithms and variants, alternating which
  // variant goes first, so a noisy neighbour slows both alike and the per-round ratio stays meaningful.
  for (let round = 0; round < runs + 1; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const { name, variant, security, rounds } of order) {
      const profiled = round === 1 && values.profile !== undefined && variant === 'this';
      if (profiled) await session.post('Profiler.start');
      const result = await timeAll(security, rounds[round] as string[]);
      if (profiled) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(`${values.profile as string}-${name}.cpuprofile`, JSON.stringify(profile));
      }
      const key = `${name} ${variant}`;
      if (round > 0) results.set(key, [...(results.get(key) ?? []), result]);
    }
  }
  console.log(
    `\ntoken verification, no cache hit: ${count} distinct tokens x ${runs} rounds (medians)\n`,
  );
  for (const [key, list] of results) {
    const wall = median(list.map((r) => r.wallUs));
    const cpu = median(list.map((r) => r.cpuUs));
    console.log(
      `${key.padEnd(15)} ${cpu.toFixed(1).padStart(7)} µs CPU  ${wall.toFixed(1).padStart(7)} µs wall per token`,
    );
  }
  if (values.baseline !== undefined) {
    console.log('\nthis / baseline, CPU per token, median of per-round ratios:');
    for (const alg of ['ES256', 'EdDSA', 'RS256']) {
      const mine = results.get(`${alg} this`) ?? [];
      const base = results.get(`${alg} baseline`) ?? [];
      const ratios = mine.map((r, i) => r.cpuUs / (base[i]?.cpuUs ?? Number.NaN));
      console.log(
        `${alg.padEnd(6)} ${median(ratios).toFixed(2)}x  (rounds ${ratios.map((r) => r.toFixed(2)).join(' ')})`,
      );
    }
  }
  for (const { security, dir } of cases) {
    await security.close();
    rmSync(dir, { recursive: true, force: true });
  }
  idp.close();
}

await main();
