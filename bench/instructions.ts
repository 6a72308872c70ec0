/**
 * CPU instructions per proxied HTTP/1.1 request, counted by valgrind's callgrind: a figure that does not move
 * with machine load, unlike req/s. Runs one proxy under callgrind (edgeway's route + forward as shipped, the
 * bare reference or the logged reference), warms it up uninstrumented (V8 still compiles hot code for the first
 * thousands of requests, and that compilation varies from run to run), then counts two windows of a fixed number of
 * requests from `h2load --h1` (zeroing the counters before each, dumping them after); instructions per
 * request is the difference of the two totals over the difference of the counts, so what a window costs
 * whatever its size (the zero and dump themselves, timers) cancels out. Every thread is counted: the
 * collector's helpers and the access log's writes too, but not the kernel.
 * `node --import tsx bench/instructions.ts [--target edgeway|bare|logged] [--warmup N] [--windows N1,N2]
 *   [--connections N] [--build DIR]`
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { benchFlags } from './args.js';
import {
  compiled,
  freePort,
  runAndExit,
  startBenchUpstream,
  startGatewayProcess,
  startNode,
} from './processes.js';

const run = promisify(execFile);

/** `requests` HTTP/1.1 requests on `connections` keep-alive connections; throws unless every one succeeded. */
async function h2load(url: string, requests: number, connections: number): Promise<void> {
  const { stdout } = await run(
    'h2load',
    ['--h1', '-n', String(requests), '-c', String(connections), '-t', '1', url],
    { maxBuffer: 1 << 20 },
  );
  const done = /(\d+) succeeded, (\d+) failed/.exec(stdout);
  const ok = /status codes: (\d+) 2xx/.exec(stdout);
  if (done === null || Number(done[2]) > 0 || Number(ok?.[1]) !== requests)
    throw new Error(`h2load said: ${stdout}`);
}

/** Opens and closes a TCP connection: callgrind reads its commands only while the process runs. */
function poke(port: number): void {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('connect', () => socket.end());
}

/** Runs `callgrind_control args pid`, waking an idle process until it answered. */
async function control(args: string[], pid: number, port: number): Promise<void> {
  const pending = run('callgrind_control', [...args, String(pid)]);
  const timer = setInterval(() => poke(port), 300);
  try {
    await pending;
  } finally {
    clearInterval(timer);
  }
}

/** The instruction total of the newest dump in `dir`. */
function lastDumpTotal(dir: string): number {
  const dumps = readdirSync(dir)
    .filter((name) => /\.\d+$/.test(name))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const text = readFileSync(join(dir, dumps[dumps.length - 1] as string), 'utf8');
  const total = /^(?:totals|summary): (\d+)/m.exec(text);
  if (total === null) throw new Error('no totals in the callgrind dump');
  return Number(total[1]);
}

async function main(): Promise<void> {
  const values = benchFlags({
    target: 'edgeway',
    warmup: 5000,
    windows: '2000,6000',
    connections: 50,
    build: null,
  });
  const [small, large] = values.windows.split(',').map(Number) as [number, number];
  const { connections } = values;
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-callgrind-'));
  const callgrind = [
    'valgrind',
    '--tool=callgrind',
    `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
    '--dump-line=no',
    // Start-up and warm-up run uninstrumented (several times faster); counting starts with the windows.
    '--instr-atstart=no',
  ];
  const upstream = await startBenchUpstream('1');
  let port: number;
  let pid: number;
  if (values.target === 'edgeway') {
    const gw = await startGatewayProcess(
      '0',
      `services:\n  bench: { instances: ["${upstream}"] }\nroutes:\n  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }\n`,
      {},
      [],
      [],
      values.build === undefined ? undefined : resolve(values.build, 'dist/src/cli/main.js'),
      'pipe',
      callgrind,
    );
    port = gw.port;
    pid = gw.child.pid as number;
  } else {
    port = await freePort();
    const script =
      values.target === 'bare' ? 'bench/reference-proxy.ts' : 'bench/logged-reference-proxy.ts';
    const child = await startNode(
      '0',
      ['--max-semi-space-size=4', compiled(script), String(port), upstream],
      'ready',
      { MALLOC_ARENA_MAX: '2' },
      'pipe',
      callgrind,
    );
    pid = child.pid as number;
  }
  const url = `http://127.0.0.1:${port}${values.target === 'edgeway' ? '/bench/item' : '/item'}`;
  await h2load(url, values.warmup, connections);
  await control(['-i', 'on'], pid, port);
  const totals: number[] = [];
  for (const requests of [small, large]) {
    await control(['-z'], pid, port);
    await h2load(url, requests, connections);
    await control(['-d'], pid, port);
    totals.push(lastDumpTotal(dir));
  }
  const [a, b] = totals as [number, number];
  console.log(
    `${values.target}: ${small} requests ${a} instructions (${(a / small).toFixed(0)}/request), ` +
      `${large} requests ${b} (${(b / large).toFixed(0)}/request); ` +
      `per request ${((b - a) / (large - small)).toFixed(0)}`,
  );
}

runAndExit(main);
