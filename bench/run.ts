/**
 * `npm run bench`: load against an upstream directly, through the reference proxy and through edgeway, all
 * in one run, interleaved per round; prints req/s, p50/p99, the proxy's CPU share, req/s per proxy core and
 * the ratios against the reference measured in the same run. Flags: --duration S, --runs N, --connections N.
 */
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { cpuSeconds, drive, LOAD_TOOL, rssMb, type LoadResult } from './load.js';
import {
  compiled,
  freePort,
  startBenchUpstream,
  startGatewayProcess,
  runAndExit,
  startNode,
} from './processes.js';
import { extraScenarios, type Scenario } from './scenarios.js';
import { measurePaired } from './paired.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    only: { type: 'string' },
  },
});
const seconds = Number(values.duration);
const runs = Number(values.runs);
const connections = Number(values.connections);
// Proxy on CPU 0; load generator and upstreams on CPU 1 (a 2-core machine).
const PROXY_CPU = '0';
const OTHER_CPU = '1';

interface Row extends LoadResult {
  readonly cpuShare: number;
  readonly perCore: number;
}

async function measure(scenario: Scenario): Promise<Row> {
  const before = scenario.pid === undefined ? 0 : cpuSeconds(scenario.pid);
  const started = performance.now();
  const result = await drive(scenario.url, seconds, connections, OTHER_CPU, scenario.headers);
  const wall = (performance.now() - started) / 1000;
  const cpuShare =
    scenario.pid === undefined ? Number.NaN : (cpuSeconds(scenario.pid) - before) / wall;
  return { ...result, cpuShare, perCore: result.rps / cpuShare };
}

async function main(): Promise<void> {
  const upstreams = [await startBenchUpstream(OTHER_CPU), await startBenchUpstream(OTHER_CPU)];
  const refPort = await freePort();
  const ref = await startNode(
    PROXY_CPU,
    [compiled('bench/reference-proxy.ts'), String(refPort), ...upstreams],
    'ready',
  );
  const gw = await startGatewayProcess(
    PROXY_CPU,
    `services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }
`,
  );
  const scenarios: Scenario[] = [
    { name: 'upstream direct', url: `${upstreams[0]}/item` },
    { name: 'reference proxy', url: `http://127.0.0.1:${refPort}/item`, pid: ref.pid },
    {
      name: 'edgeway proxy path',
      url: `http://127.0.0.1:${gw.port}/bench/item`,
      pid: gw.child.pid,
    },
    ...(await extraScenarios({ upstreams, proxyCpu: PROXY_CPU, otherCpu: OTHER_CPU })),
  ].filter(
    (s) =>
      values.only === undefined || s.name.includes(values.only) || s.name === 'reference proxy',
  );

  const rows = new Map<string, Row[]>(scenarios.map((s) => [s.name, []]));
  for (const scenario of scenarios)
    await drive(scenario.url, 1, connections, OTHER_CPU, scenario.headers);
  for (let round = 0; round < runs; round++) {
    for (const scenario of scenarios) rows.get(scenario.name)?.push(await measure(scenario));
  }

  const summary = scenarios.map((s) => {
    const list = rows.get(s.name) as Row[];
    return {
      name: s.name,
      rps: median(list.map((r) => r.rps)),
      p50: median(list.map((r) => r.p50Ms)),
      p99: median(list.map((r) => r.p99Ms)),
      cpu: median(list.map((r) => r.cpuShare)),
      perCore: median(list.map((r) => r.perCore)),
      errors: list.reduce((a, r) => a + r.errors, 0),
    };
  });
  const ref0 = summary.find((s) => s.name === 'reference proxy');
  const pad = (v: string, n: number) => v.padStart(n);
  console.log(
    `\nedgeway bench — ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, node ${process.version}, ${LOAD_TOOL} c=${connections}, ${runs} runs x ${seconds}s (medians); proxy pinned to CPU ${PROXY_CPU}\n`,
  );
  console.log(
    `${'scenario'.padEnd(34)}${pad('req/s', 9)}${pad('p50 ms', 9)}${pad('p99 ms', 9)}${pad('cpu', 7)}${pad('req/s/core', 12)}${pad('x ref/core', 12)}${pad('p99 x ref', 11)}${pad('errors', 8)}`,
  );
  for (const s of summary) {
    const ratio = ref0 && Number.isFinite(s.perCore) ? (s.perCore / ref0.perCore).toFixed(2) : '-';
    const p99Ratio = ref0 ? (s.p99 / ref0.p99).toFixed(2) : '-';
    console.log(
      `${s.name.padEnd(34)}${pad(s.rps.toFixed(0), 9)}${pad(s.p50.toFixed(2), 9)}${pad(s.p99.toFixed(2), 9)}${pad(Number.isFinite(s.cpu) ? s.cpu.toFixed(2) : '-', 7)}${pad(Number.isFinite(s.perCore) ? s.perCore.toFixed(0) : '-', 12)}${pad(ratio, 12)}${pad(p99Ratio, 11)}${pad(String(s.errors), 8)}`,
    );
  }
  for (const s of scenarios) {
    const baseline = scenarios.find((b) => b.name === s.pairedWith);
    if (baseline === undefined) continue;
    const paired = await measurePaired(s, baseline, runs, seconds, connections, OTHER_CPU);
    console.log(
      `\npaired (loaded together on CPU ${PROXY_CPU}): "${s.name}" vs "${baseline.name}": ${paired.perCpu.toFixed(2)}x per CPU, ${paired.rps.toFixed(2)}x req/s (rounds per CPU: ${paired.rounds.map((r) => r.toFixed(2)).join(' ')})`,
    );
  }
  if (gw.child.pid !== undefined)
    console.log(`\nedgeway RSS after the run: ${rssMb(gw.child.pid).toFixed(0)} MB`);
}

runAndExit(main);
