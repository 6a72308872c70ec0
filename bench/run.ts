/**
 * `npm run bench`: load on an upstream directly, on the bare reference proxy (bench/reference-proxy.ts), the
 * logged reference (bench/logged-reference-proxy.ts), the peers fast-gateway and @fastify/http-proxy, and
 * every edgeway scenario, all in one run, interleaved per round. The proxy under test is pinned to CPU 0, load
 * generator and upstreams to CPU 1. Prints medians of req/s, p50/p99, the proxy's CPU share, req/s per proxy
 * core and the ratios against both references measured in the same run, then each scenario's own comparison.
 * Flags: --duration S, --runs N, --connections N, --semi-space MB (edgeway's, default 4 as shipped), --only TEXT (scenarios whose name contains it, plus both
 * references and what they are compared with; only their processes start).
 */
import { cpus } from 'node:os';
import { benchFlags } from './args.js';
import { cpuSeconds, drive, LOAD_TOOL, rssMb, type LoadResult } from './load.js';
import {
  runAndExit,
  setGatewaySemiSpace,
  startBenchUpstream,
  startGatewayProcess,
} from './processes.js';
import {
  extraScenarioGroups,
  type Scenario,
  type ScenarioGroup,
  type ScenarioSpec,
} from './scenarios.js';
import { BARE, LOGGED, referenceGroups } from './references.js';
import { startFullPath } from './full-path-scenario.js';
import { measurePaired } from './paired.js';
import { median } from './median.js';

const values = benchFlags({
  duration: 5,
  runs: 3,
  connections: 50,
  only: null,
  'semi-space': 4,
});
setGatewaySemiSpace(values['semi-space']);
const { duration: seconds, runs, connections } = values;
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

const UPSTREAM_DIRECT = 'upstream direct';
const ROUTE_FORWARD = 'edgeway: route + forward';
const FULL_PATH = 'edgeway: full path';

/** In the order they are measured in each round. */
const groups: readonly ScenarioGroup[] = [
  {
    scenarios: [{ name: UPSTREAM_DIRECT }],
    start: async ({ upstreams }) => ({ [UPSTREAM_DIRECT]: { url: `${upstreams[0]}/item` } }),
  },
  ...referenceGroups,
  {
    scenarios: [{ name: ROUTE_FORWARD, versus: [LOGGED, BARE, 'peer: fast-gateway'] }],
    async start({ upstreams, proxyCpu }) {
      const gw = await startGatewayProcess(
        proxyCpu,
        `services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }
`,
      );
      return {
        [ROUTE_FORWARD]: { url: `http://127.0.0.1:${gw.port}/bench/item`, pid: gw.child.pid },
      };
    },
  },
  {
    scenarios: [{ name: FULL_PATH, versus: [BARE, LOGGED] }],
    async start({ upstreams, proxyCpu, otherCpu }) {
      const full = await startFullPath(upstreams, proxyCpu, otherCpu);
      return { [FULL_PATH]: { url: full.url, pid: full.child.pid, headers: full.headers } };
    },
  },
  ...extraScenarioGroups,
];

/**
 * The names `--only` selects: those containing it, both references (the table's ratio columns), and, until
 * nothing is added, every scenario a selected one is compared or paired with.
 */
function selected(specs: readonly ScenarioSpec[], only: string): Set<string> {
  const names = new Set(
    specs.map((s) => s.name).filter((n) => n.includes(only) || n === BARE || n === LOGGED),
  );
  for (let size = 0; size !== names.size;) {
    size = names.size;
    for (const spec of specs.filter((s) => names.has(s.name))) {
      for (const other of specs) {
        const compared = spec.versus?.some((prefix) => other.name.startsWith(prefix)) ?? false;
        if (compared || other.name === spec.pairedWith) names.add(other.name);
      }
    }
  }
  return names;
}

async function main(): Promise<void> {
  const specs = groups.flatMap((g) => g.scenarios);
  const wanted =
    values.only === undefined ? new Set(specs.map((s) => s.name)) : selected(specs, values.only);
  const upstreams = [await startBenchUpstream(OTHER_CPU), await startBenchUpstream(OTHER_CPU)];
  const scenarios: Scenario[] = [];
  for (const group of groups) {
    if (!group.scenarios.some((s) => wanted.has(s.name))) continue;
    const targets = await group.start({ upstreams, proxyCpu: PROXY_CPU, otherCpu: OTHER_CPU });
    for (const spec of group.scenarios.filter((s) => wanted.has(s.name))) {
      const target = targets[spec.name];
      if (target === undefined) throw new Error(`no target for scenario "${spec.name}"`);
      scenarios.push({ ...spec, ...target });
    }
  }

  const rows = new Map<string, Row[]>(scenarios.map((s) => [s.name, []]));
  for (const scenario of scenarios)
    await drive(scenario.url, 1, connections, OTHER_CPU, scenario.headers);
  for (let round = 0; round < runs; round++) {
    for (const scenario of scenarios) rows.get(scenario.name)?.push(await measure(scenario));
  }

  const summary = scenarios.map((s) => {
    const list = rows.get(s.name) as Row[];
    return {
      scenario: s,
      rps: median(list.map((r) => r.rps)),
      p50: median(list.map((r) => r.p50Ms)),
      p99: median(list.map((r) => r.p99Ms)),
      cpu: median(list.map((r) => r.cpuShare)),
      perCore: median(list.map((r) => r.perCore)),
      errors: list.reduce((a, r) => a + r.errors, 0),
    };
  });
  const bare = summary.find((s) => s.scenario.name === BARE);
  const logged = summary.find((s) => s.scenario.name === LOGGED);
  const ratio = (a: number, b: number | undefined): string =>
    b === undefined || !Number.isFinite(a) || !Number.isFinite(b) ? '-' : (a / b).toFixed(2);
  const pad = (v: string, n: number) => v.padStart(n);
  console.log(
    `\nedgeway bench — ${new Date().toISOString().slice(0, 10)}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, node ${process.version}, ${LOAD_TOOL} c=${connections}, ${runs} runs x ${seconds}s (medians); proxy pinned to CPU ${PROXY_CPU}, ${LOAD_TOOL} and upstreams to CPU ${OTHER_CPU}\n`,
  );
  console.log(
    `${'scenario'.padEnd(40)}${pad('req/s', 8)}${pad('p50 ms', 8)}${pad('p99 ms', 8)}${pad('cpu', 6)}${pad('req/s/core', 11)}${pad('x bare', 8)}${pad('x logged', 9)}${pad('p99 x bare', 11)}${pad('errors', 7)}`,
  );
  for (const s of summary) {
    console.log(
      `${s.scenario.name.padEnd(40)}${pad(s.rps.toFixed(0), 8)}${pad(s.p50.toFixed(2), 8)}${pad(s.p99.toFixed(2), 8)}${pad(Number.isFinite(s.cpu) ? s.cpu.toFixed(2) : '-', 6)}${pad(Number.isFinite(s.perCore) ? s.perCore.toFixed(0) : '-', 11)}${pad(ratio(s.perCore, bare?.perCore), 8)}${pad(ratio(s.perCore, logged?.perCore), 9)}${pad(ratio(s.p99, bare?.p99), 11)}${pad(String(s.errors), 7)}`,
    );
  }
  console.log('\nper core, each scenario against its own baseline (same run):');
  for (const s of summary) {
    for (const name of s.scenario.versus ?? []) {
      const baseline = summary.find((b) => b.scenario.name.startsWith(name));
      if (baseline === undefined) continue;
      console.log(
        `  "${s.scenario.name}" vs "${baseline.scenario.name}": ${ratio(s.perCore, baseline.perCore)}x per core, ${ratio(s.rps, baseline.rps)}x req/s, p99 ${ratio(s.p99, baseline.p99)}x`,
      );
    }
  }
  for (const s of scenarios) {
    const baseline = scenarios.find((b) => b.name === s.pairedWith);
    if (baseline === undefined) continue;
    const paired = await measurePaired(s, baseline, runs, seconds, connections, OTHER_CPU);
    console.log(
      `\npaired (loaded together on CPU ${PROXY_CPU}): "${s.name}" vs "${baseline.name}": ${paired.perCpu.toFixed(2)}x per CPU, ${paired.rps.toFixed(2)}x req/s (rounds per CPU: ${paired.rounds.map((r) => r.toFixed(2)).join(' ')})`,
    );
  }
  for (const scenario of scenarios.filter(
    (s) => s.name === ROUTE_FORWARD || s.name === FULL_PATH,
  )) {
    if (scenario.pid !== undefined)
      console.log(`\nRSS after the run, ${scenario.name}: ${rssMb(scenario.pid).toFixed(0)} MB`);
  }
}

runAndExit(main);
