/**
 * HTTP/2 through edgeway (h2c) vs the raw node:http2 forwarder (bench/reference-h2-proxy.ts), paired: both
 * proxies pinned to CPU 0 and loaded at the same time by two h2load processes (10 connections x 10 streams
 * each) on CPU 1 with the upstream, so both see the same machine in every round (see bench/paired.ts). Each
 * round's ratio is edgeway's req/s per CPU second (from /proc) over the reference's; the median is reported.
 * Edgeway runs with the 4 MB semi-spaces it ships with and the reference with Node's default (16 MB on
 * 64-bit); `--semi-space MB` gives both the same `--max-semi-space-size`, which over HTTP/2 decides how much
 * of each request is promoted to the old generation (README, HTTP/2 performance).
 * Not part of `npm test`: `node --import tsx bench/http2.ts [--duration S] [--rounds N] [--semi-space MB]`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { benchFlags } from './args.js';
import { cpuSeconds } from './load.js';
import { median } from './median.js';
import {
  compiled,
  freePort,
  runAndExit,
  startBenchUpstream,
  startGatewayProcess,
  startNode,
} from './processes.js';

const run = promisify(execFile);
const {
  duration: DURATION_S,
  rounds: ROUNDS,
  'semi-space': semiSpace,
} = benchFlags({ duration: 8, rounds: 7, 'semi-space': null });
const SEMI_SPACE = semiSpace === undefined ? [] : [`--max-semi-space-size=${semiSpace}`];

/** One h2load run of `seconds` on CPU 1: 10 connections x 10 concurrent streams, h2c; returns req/s. */
async function h2load(port: number, seconds: number): Promise<number> {
  const { stdout } = await run('taskset', [
    '-c',
    '1',
    'h2load',
    '-c',
    '10',
    '-m',
    '10',
    '-D',
    String(seconds),
    '-t',
    '1',
    `http://127.0.0.1:${port}/bench`,
  ]);
  const match = /finished in [^,]+, ([\d.]+) req\/s/.exec(stdout);
  const failed = /(\d+) failed/.exec(stdout);
  if (match === null) throw new Error(`h2load said: ${stdout}`);
  if (failed !== null && Number(failed[1]) > 0) throw new Error(`h2load saw failures: ${stdout}`);
  return Number(match[1]);
}

interface Side {
  readonly port: number;
  readonly pid: number;
}

/** Both sides loaded at once for `seconds`: req/s and req/s per CPU second of each. */
async function round(
  sides: readonly [Side, Side],
  seconds: number,
): Promise<Array<{ rps: number; perCore: number }>> {
  const before = sides.map((side) => cpuSeconds(side.pid));
  const rps = await Promise.all(sides.map((side) => h2load(side.port, seconds)));
  return sides.map((side, i) => {
    const cpu = cpuSeconds(side.pid) - (before[i] as number);
    return { rps: rps[i] as number, perCore: ((rps[i] as number) * seconds) / Math.max(cpu, 0.01) };
  });
}

runAndExit(async () => {
  const upstream = await startBenchUpstream('1');
  const refPort = await freePort();
  const reference = await startNode(
    '0',
    [...SEMI_SPACE, compiled('bench/reference-h2-proxy.ts'), String(refPort), upstream],
    'ready',
  );
  const gateway = await startGatewayProcess(
    '0',
    `gateway: { h2c: true }\nservices:\n  bench: { instances: ["${upstream}"] }\nroutes:\n  - { name: bench, match: { path: / }, service: bench }\n`,
    {},
    [],
    SEMI_SPACE,
  );
  const sides: [Side, Side] = [
    { port: gateway.port, pid: gateway.child.pid as number },
    { port: refPort, pid: reference.pid as number },
  ];
  await round(sides, 3);
  const ratios: number[] = [];
  const rows: Array<Array<{ rps: number; perCore: number }>> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const [edgeway, ref] = await round(sides, DURATION_S);
    if (edgeway === undefined || ref === undefined) throw new Error('a side did not report');
    rows.push([edgeway, ref]);
    ratios.push(edgeway.perCore / ref.perCore);
    console.log(
      `round ${i + 1}: edgeway ${edgeway.rps.toFixed(0)} req/s, ${edgeway.perCore.toFixed(0)} per core; ` +
        `reference ${ref.rps.toFixed(0)} req/s, ${ref.perCore.toFixed(0)} per core; ratio ${(edgeway.perCore / ref.perCore).toFixed(2)}`,
    );
  }
  const med = (side: 0 | 1, key: 'rps' | 'perCore'): string =>
    median(rows.map((row) => (row[side] as { rps: number; perCore: number })[key])).toFixed(0);
  console.log(`edgeway (h2c): ${med(0, 'rps')} req/s, ${med(0, 'perCore')} req/s per core`);
  console.log(
    `reference node:http2 forwarder: ${med(1, 'rps')} req/s, ${med(1, 'perCore')} req/s per core`,
  );
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(
    `edgeway / reference per core, paired: ${median(ratios).toFixed(2)}x (rounds ${(sorted[0] as number).toFixed(2)}-${(sorted[sorted.length - 1] as number).toFixed(2)})`,
  );
});
