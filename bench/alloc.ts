/**
 * Bytes the gateway allocates per proxied request: the route + forward path (access log and metrics on, as
 * shipped) under wrk, with V8's --trace-gc. Between two collections the heap grows only by allocation, so
 * the sum over collections of (used before this one - used after the previous one) is what was allocated.
 * Allocation volume hardly depends on machine load, so sequential runs compare builds on a noisy machine.
 * `--build DIR` measures another built checkout instead (see paired-builds.ts). `--h2` drives h2c with h2load
 * (10 connections x 10 streams, as bench/http2.ts) for a fixed `--requests` count; `--h2 --reference`
 * measures the raw node:http2 forwarder (bench/reference-h2-proxy.ts) the same way. Over HTTP/2 it reads
 * `--trace-gc-nvp` instead, which also says what each scavenge promoted to the old generation; both sides
 * run with 4 MB semi-spaces, as edgeway ships, or `--semi-space MB`.
 * `node --import tsx bench/alloc.ts [--seconds S] [--connections N] [--build DIR] [--h2 [--reference] [--requests N] [--semi-space MB]]`
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { benchFlags } from './args.js';
import { drive } from './load.js';
import {
  compiled,
  freePort,
  runAndExit,
  startBenchUpstream,
  startGatewayProcess,
  startNode,
} from './processes.js';

/** `Scavenge 5.1 (6.2) -> 1.3 (6.4) MB` and the like: used heap before and after, in MB. */
const GC_LINE =
  /(?:Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+)/;

const run = promisify(execFile);

/** Sums what `child` allocated between its collections, from its --trace-gc lines; read the total at any time. */
function countAllocation(child: ChildProcess): { mb: () => number } {
  let allocatedMb = 0;
  let lastAfter: number | undefined;
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const match = GC_LINE.exec(line);
      if (match === null) continue;
      const [before, after] = [Number(match[1]), Number(match[2])];
      if (lastAfter !== undefined) allocatedMb += before - lastAfter;
      lastAfter = after;
    }
  });
  return { mb: () => allocatedMb };
}

/** Sums what `child` allocated and promoted, from its --trace-gc-nvp lines; read the totals at any time. */
function countGcNvp(child: ChildProcess): { allocatedMb: () => number; promotedMb: () => number } {
  let allocated = 0;
  let promoted = 0;
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      allocated += Number(/ allocated=(\d+)/.exec(line)?.[1] ?? 0);
      promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
    }
  });
  return { allocatedMb: () => allocated / 2 ** 20, promotedMb: () => promoted / 2 ** 20 };
}

/** `requests` h2c requests from h2load on CPU 1, 10 connections x 10 streams; throws on a failed one. */
async function h2load(port: number, requests: number): Promise<void> {
  const { stdout } = await run('taskset', [
    '-c',
    '1',
    'h2load',
    '-c',
    '10',
    '-m',
    '10',
    '-n',
    String(requests),
    '-t',
    '1',
    `http://127.0.0.1:${port}/bench`,
  ]);
  const done = /(\d+) succeeded, (\d+) failed/.exec(stdout);
  if (done === null || Number(done[2]) > 0 || Number(done[1]) !== requests)
    throw new Error(`h2load said: ${stdout}`);
}

async function main(): Promise<void> {
  const values = benchFlags({
    seconds: 10,
    connections: 20,
    build: null,
    h2: false,
    reference: false,
    requests: 200_000,
    'semi-space': 4,
  });
  const upstream = await startBenchUpstream('1');
  if (values.h2) {
    let port: number;
    let child: ChildProcess;
    if (values.reference) {
      port = await freePort();
      child = await startNode(
        '0',
        [
          `--max-semi-space-size=${values['semi-space']}`,
          '--trace-gc-nvp',
          compiled('bench/reference-h2-proxy.ts'),
          String(port),
          upstream,
        ],
        'ready',
      );
    } else {
      ({ port, child } = await startGatewayProcess(
        '0',
        `gateway: { h2c: true }\nservices:\n  bench: { instances: ["${upstream}"] }\nroutes:\n  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }\n`,
        {},
        [],
        [`--max-semi-space-size=${values['semi-space']}`, '--trace-gc-nvp'],
        values.build === undefined ? undefined : resolve(values.build, 'dist/src/cli/main.js'),
        'pipe',
      ));
    }
    await h2load(port, 20_000);
    const gc = countGcNvp(child);
    await h2load(port, values.requests);
    const perRequest = (mb: number): string => ((mb * 1024) / values.requests).toFixed(1);
    console.log(
      `${values.reference ? 'reference' : 'edgeway'} h2c: ${values.requests} requests, ` +
        `${gc.allocatedMb().toFixed(0)} MB allocated: ${perRequest(gc.allocatedMb())} KB per request; ` +
        `${perRequest(gc.promotedMb())} KB per request promoted (${values['semi-space']} MB semi-spaces)`,
    );
    return;
  }
  const gw = await startGatewayProcess(
    '0',
    `services:\n  bench: { instances: ["${upstream}"] }\nroutes:\n  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }\n`,
    {},
    [],
    ['--trace-gc'],
    values.build === undefined ? undefined : resolve(values.build, 'dist/src/cli/main.js'),
    'pipe',
  );
  const url = `http://127.0.0.1:${gw.port}/bench`;
  await drive(url, 2, values.connections, '1');
  const allocated = countAllocation(gw.child);
  const load = await drive(url, values.seconds, values.connections, '1');
  const requests = load.rps * values.seconds;
  console.log(
    `${requests.toFixed(0)} requests (${load.errors} errors), ${allocated.mb().toFixed(0)} MB allocated: ` +
      `${((allocated.mb() * 1024) / requests).toFixed(1)} KB per request`,
  );
}

runAndExit(main);
