/**
 * This build against another, loaded at once on the same CPU (see paired.ts): HTTP/1.1 route + forward, as
 * shipped. The baseline is a built checkout of another commit (e.g. `git archive main | tar -x -C DIR`, a
 * node_modules symlink, `tsc -p tsconfig.json` in it). Prints per-round ratios of this build to the baseline.
 * `node --import tsx bench/paired-builds.ts --baseline DIR [--rounds N] [--seconds S] [--connections N]`
 */
import { resolve } from 'node:path';
import { benchFlags } from './args.js';
import { drive } from './load.js';
import { measurePaired } from './paired.js';
import { compiled, runAndExit, startBenchUpstream, startGatewayProcess } from './processes.js';
import type { Scenario } from './scenarios.js';

const YAML =
  'services:\n  bench: { instances: ["UPSTREAM"] }\nroutes:\n  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }\n';

async function startGateway(name: string, main: string, upstream: string): Promise<Scenario> {
  const gw = await startGatewayProcess('0', YAML.replace('UPSTREAM', upstream), {}, [], [], main);
  return { name, url: `http://127.0.0.1:${gw.port}/bench`, pid: gw.child.pid as number };
}

async function main(): Promise<void> {
  const values = benchFlags({ baseline: null, rounds: 7, seconds: 6, connections: 40 });
  if (values.baseline === undefined) throw new Error('--baseline DIR is required');
  const upstream = await startBenchUpstream('1');
  const current = await startGateway('this build', compiled('src/cli/main.ts'), upstream);
  const baseline = await startGateway(
    'baseline',
    resolve(values.baseline, 'dist/src/cli/main.js'),
    upstream,
  );
  await Promise.all([current, baseline].map((s) => drive(s.url, 2, 10, '1')));
  const result = await measurePaired(
    current,
    baseline,
    values.rounds,
    values.seconds,
    values.connections,
    '1',
  );
  console.log(
    `per-core ratio (this build / baseline): median ${result.perCpu.toFixed(3)}, rounds ` +
      result.rounds.map((r) => r.toFixed(3)).join(' ') +
      `; req/s ratio median ${result.rps.toFixed(3)}`,
  );
}

runAndExit(main);
