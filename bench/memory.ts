/**
 * p99 and RSS over a million requests: the bare reference and edgeway's route + forward (access log and
 * metrics on, as shipped, the log written to /dev/null; `--full` adds the full path) each take load in
 * interleaved chunks until every one has answered `--requests` requests. Prints, per proxy, p99 per chunk (latency over time: pauses show as
 * spikes), the median chunk p99 as a ratio to the reference's, and RSS after the last chunk and at its peak.
 * Targets (issue 13): p99 <= 1.3x the reference at 50 connections; RSS <= 120 MB after a million requests.
 * `node --import tsx bench/memory.ts [--requests N] [--chunk S] [--connections N] [--full]`
 */
import { benchFlags } from './args.js';
import { drive, rssMb } from './load.js';
import { median } from './median.js';
import {
  runAndExit,
  setGatewaySemiSpace,
  startBenchUpstream,
  startGatewayProcess,
} from './processes.js';
import { BARE, bareReference } from './references.js';
import { startFullPath } from './full-path-scenario.js';

const PROXY_CPU = '0';
const OTHER_CPU = '1';

interface Target {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly headers?: Record<string, string>;
  requests: number;
  readonly p99: number[];
  peakRss: number;
}

async function main(): Promise<void> {
  const values = benchFlags({
    requests: 1_000_000,
    chunk: 10,
    connections: 50,
    full: false,
    'semi-space': 4,
  });
  setGatewaySemiSpace(values['semi-space']);
  const { requests: wanted, chunk, connections } = values;
  const upstreams = [await startBenchUpstream(OTHER_CPU), await startBenchUpstream(OTHER_CPU)];
  const bare = (await bareReference.start({ upstreams, proxyCpu: PROXY_CPU, otherCpu: OTHER_CPU }))[
    BARE
  ];
  // The access log goes to /dev/null: read through a pipe by this process, on a loaded CPU, the reader
  // falls behind and the gateway's RSS then measures its buffered lines (up to the 16 MiB bound) and the
  // reader's CPU, not the gateway.
  const gw = await startGatewayProcess(
    PROXY_CPU,
    `services:
  bench:
    instances: [${upstreams.join(', ')}]
    loadBalancer: { policy: round-robin }
routes:
  - { name: bench, match: { path: /bench }, service: bench, stripPrefix: true }
`,
    {},
    [],
    [],
    undefined,
    'ignore',
  );
  const fresh = (name: string, url: string, pid: number, headers?: Record<string, string>) => ({
    name,
    url,
    pid,
    ...(headers === undefined ? {} : { headers }),
    requests: 0,
    p99: [],
    peakRss: 0,
  });
  const targets: Target[] = [
    fresh(BARE, bare?.url as string, bare?.pid as number),
    fresh(
      'edgeway: route + forward',
      `http://127.0.0.1:${gw.port}/bench/item`,
      gw.child.pid as number,
    ),
  ];
  if (values.full) {
    const full = await startFullPath(upstreams, PROXY_CPU, OTHER_CPU);
    targets.push(fresh('edgeway: full path', full.url, full.child.pid as number, full.headers));
  }
  const started = Date.now();
  while (targets.some((t) => t.requests < wanted)) {
    for (const target of targets) {
      if (target.requests >= wanted) continue;
      const result = await drive(target.url, chunk, connections, OTHER_CPU, target.headers);
      target.requests += Math.round(result.rps * chunk);
      target.p99.push(result.p99Ms);
      target.peakRss = Math.max(target.peakRss, rssMb(target.pid));
    }
    process.stderr.write(
      `${((Date.now() - started) / 1000).toFixed(0)} s: ${targets.map((t) => `${t.name} ${t.requests}`).join(', ')}\n`,
    );
  }
  const reference = median(targets[0]?.p99 ?? []);
  console.log(
    `\np99 and RSS after ${wanted} requests each (wrk c=${connections}, ${chunk} s chunks interleaved; proxies pinned to CPU ${PROXY_CPU})\n`,
  );
  for (const t of targets) {
    const p99 = median(t.p99);
    console.log(
      `${t.name.padEnd(28)} requests ${t.requests}  p99 median ${p99.toFixed(1)} ms (${(p99 / reference).toFixed(2)}x reference), max ${Math.max(...t.p99).toFixed(1)} ms  RSS ${rssMb(t.pid).toFixed(0)} MB (peak ${t.peakRss.toFixed(0)} MB)`,
    );
    console.log(`${''.padEnd(28)} p99 per chunk, ms: ${t.p99.map((v) => v.toFixed(0)).join(' ')}`);
  }
}

runAndExit(main);
