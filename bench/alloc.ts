/**
 * Bytes the gateway allocates per proxied request: the route + forward path (access log and metrics on, as
 * shipped) under wrk, with V8's --trace-gc. Between two collections the heap grows only by allocation, so
 * the sum over collections of (used before this one - used after the previous one) is what was allocated.
 * Allocation volume hardly depends on machine load, so sequential runs compare builds on a noisy machine.
 * `--build DIR` measures another built checkout instead (see paired-builds.ts).
 * `node --import tsx bench/alloc.ts [--seconds S] [--connections N] [--build DIR]`
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drive } from './load.js';
import { runAndExit, startBenchUpstream, startGatewayProcess } from './processes.js';

/** `Scavenge 5.1 (6.2) -> 1.3 (6.4) MB` and the like: used heap before and after, in MB. */
const GC_LINE =
  /(?:Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+)/;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '20' },
      build: { type: 'string' },
    },
  });
  const upstream = await startBenchUpstream('1');
  const gw = await startGatewayProcess(
    '0',
    `services:\n  bench: { instances: ["${upstream}"] }\nroutes:\n  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }\n`,
    {},
    [],
    ['--trace-gc'],
    values.build === undefined ? undefined : resolve(values.build, 'dist/src/cli/main.js'),
  );
  const url = `http://127.0.0.1:${gw.port}/bench`;
  await drive(url, 2, Number(values.connections), '1');
  let allocatedMb = 0;
  let lastAfter: number | undefined;
  let pending = '';
  gw.child.stdout?.on('data', (chunk: Buffer) => {
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
  const load = await drive(url, Number(values.seconds), Number(values.connections), '1');
  const requests = load.rps * Number(values.seconds);
  console.log(
    `${requests.toFixed(0)} requests (${load.errors} errors), ${allocatedMb.toFixed(0)} MB allocated: ` +
      `${((allocatedMb * 1024) / requests).toFixed(1)} KB per request`,
  );
}

runAndExit(main);
