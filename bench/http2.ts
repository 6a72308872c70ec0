/**
 * HTTP/2 through edgeway (h2c) vs the raw node:http2 forwarder (bench/reference-h2-proxy.ts), both pinned to
 * CPU 0 with the upstream and h2load on CPU 1; reports req/s and req/s per proxy core (the proxy's CPU time
 * from /proc). Not part of `npm test`: `node --import tsx bench/http2.ts [--duration S] [--runs N]`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import {
  compiled,
  freePort,
  runAndExit,
  startBenchUpstream,
  startGatewayProcess,
  startNode,
} from './processes.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const DURATION_S = flag('duration', 10);
const RUNS = flag('runs', 3);
const TICKS_PER_S = 100;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(child: ChildProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** One h2load run: 10 connections x 10 streams each; returns req/s. */
function h2load(port: number): number {
  const out = execFileSync(
    'taskset',
    [
      '-c',
      '1',
      'h2load',
      '-c',
      '10',
      '-m',
      '10',
      '-D',
      String(DURATION_S),
      '-t',
      '1',
      `http://127.0.0.1:${port}/bench`,
    ],
    { encoding: 'utf8' },
  );
  const match = /finished in [^,]+, ([\d.]+) req\/s/.exec(out);
  const failed = /(\d+) failed/.exec(out);
  if (match === null) throw new Error(`h2load said: ${out}`);
  if (failed !== null && Number(failed[1]) > 0) throw new Error(`h2load saw failures: ${out}`);
  return Number(match[1]);
}

function measure(
  name: string,
  port: number,
  child: ChildProcess,
): { name: string; rps: number; perCore: number } {
  const before = cpuSeconds(child);
  const rps = h2load(port);
  const cpu = (cpuSeconds(child) - before) / DURATION_S;
  return { name, rps, perCore: rps / Math.max(cpu, 0.01) };
}

runAndExit(async () => {
  const upstream = await startBenchUpstream('1');
  const refPort = await freePort();
  const reference = await startNode(
    '0',
    [compiled('bench/reference-h2-proxy.ts'), String(refPort), upstream],
    'ready',
  );
  const gateway = await startGatewayProcess(
    '0',
    `gateway: { h2c: true }\nservices:\n  bench: { instances: ["${upstream}"] }\nroutes:\n  - { name: bench, match: { path: / }, service: bench }\n`,
  );
  h2load(refPort);
  h2load(gateway.port);
  const rows: Array<{ name: string; rps: number; perCore: number }> = [];
  for (let run = 0; run < RUNS; run++) {
    rows.push(measure('reference node:http2 forwarder', refPort, reference));
    rows.push(measure('edgeway (h2c)', gateway.port, gateway.child));
  }
  const median = (name: string, key: 'rps' | 'perCore'): number => {
    const values = rows
      .filter((row) => row.name === name)
      .map((row) => row[key])
      .sort((a, b) => a - b);
    return values[Math.floor(values.length / 2)] as number;
  };
  for (const name of ['reference node:http2 forwarder', 'edgeway (h2c)']) {
    console.log(
      `${name}: ${median(name, 'rps').toFixed(0)} req/s, ${median(name, 'perCore').toFixed(0)} req/s per core`,
    );
  }
  console.log(
    `edgeway / reference per core: ${(median('edgeway (h2c)', 'perCore') / median('reference node:http2 forwarder', 'perCore')).toFixed(2)}x`,
  );
});
