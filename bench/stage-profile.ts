/**
 * Per-stage cost of edgeway's full path in µs per request, from `node --cpu-prof`: runs the full-path gateway
 * (bench/full-path-scenario.ts) under wrk with the CPU profiler on, keeps the samples taken while the load ran,
 * and attributes their self time to edgeway's src/ folders and files, the libraries it calls (undici, pino,
 * OpenTelemetry, ioredis, hono, jose, prom-client) and Node's internals. A group's µs per request is its share
 * of the samples times the CPU time the process used during the load (from /proc, so time the shared machine
 * took away is not counted) divided by the requests answered. Each stage's inclusive time (its own code, the
 * libraries it calls and the continuations of its awaits) is printed too: that is the cost of the stage.
 * `node --import tsx bench/stage-profile.ts [--duration S] [--connections N] [--top N] [--json FILE]`
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchFlags } from './args.js';
import { cpuSeconds, drive } from './load.js';
import { runAndExit, startBenchUpstream } from './processes.js';
import { startFullPath } from './full-path-scenario.js';

const PROXY_CPU = '0';
const OTHER_CPU = '1';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}
interface Profile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: CallFrame;
    readonly children?: readonly number[];
  }>;
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const LIBRARIES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^@opentelemetry\/|^protobufjs/, 'otel'],
  [/^undici$/, 'undici'],
  [/^(pino|sonic-boom|pino-std-serializers|fast-redact|thread-stream|on-exit-leak-free)$/, 'pino'],
  [/^(ioredis|redis-parser|denque|cluster-key-slot|redis-errors)$/, 'ioredis'],
  [/^(hono|@hono\/node-server)$/, 'hono'],
  [/^jose$/, 'jose'],
  [/^(prom-client|tdigest|bintrees)$/, 'prom-client'],
  [/^rate-limiter-flexible$/, 'rate-limiter-flexible'],
];

/** [area, detail] for one call frame; undefined for idle time. */
function groupOf({ url, functionName }: CallFrame): readonly [string, string] | undefined {
  const src = /\/dist\/src\/(.+)\.js$/.exec(url);
  if (src) {
    const file = src[1] as string;
    const folder = file.includes('/') ? file.slice(0, file.indexOf('/')) : file;
    return [`edgeway src/${folder}`, `src/${file}.ts`];
  }
  const inPackage = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (inPackage) {
    const pkg = inPackage[1] as string;
    const library = LIBRARIES.find(([pattern]) => pattern.test(pkg))?.[1] ?? 'other packages';
    return [library, `${pkg}/${inPackage[2] as string} ${functionName}`];
  }
  // undici parses HTTP/1.1 with llhttp compiled to WebAssembly.
  if (url.startsWith('wasm://')) return ['undici', `llhttp (wasm) ${functionName}`];
  if (url.startsWith('node:')) {
    const module = url.replace(/^node:(internal\/)?/, '');
    const first = module.split('/')[0] as string;
    // node:_http_outgoing and the like belong to `http`.
    const area = first.startsWith('_') ? (first.slice(1).split('_')[0] as string) : first;
    return [`node: ${area}`, url];
  }
  if (url === '') {
    if (functionName === '(idle)') return undefined;
    if (functionName === '(garbage collector)') return ['V8: garbage collector', functionName];
    if (functionName === '(program)') return ['V8: (program)', functionName];
    return ['native (bindings, builtins)', functionName];
  }
  return ['other', url];
}

/**
 * The stages of the full path by the src/ folder their code lives in; span wrappers and span work are tracing's.
 * A sample belongs to the nearest enclosing frame in one of them, so a stage's time includes the libraries and
 * node:crypto it calls and the continuations of its own awaits (they run in its frames again).
 */
const STAGE_CODE: ReadonlyArray<readonly [RegExp, string]> = [
  [/\/dist\/src\/security\//, 'auth (src/security)'],
  [/\/dist\/src\/traffic\/rate-limit\//, 'rate_limit (src/traffic/rate-limit)'],
  [/\/dist\/src\/telemetry\/tracing\//, 'tracing (src/telemetry/tracing)'],
];

/** The stage a profile node's time counts for, from the nearest frame up its stack in stage code. */
function stageOf(
  id: number,
  frames: ReadonlyMap<number, CallFrame>,
  parents: ReadonlyMap<number, number>,
): string | undefined {
  for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
    const url = (frames.get(at) as CallFrame).url;
    const stage = STAGE_CODE.find(([pattern]) => pattern.test(url));
    if (stage !== undefined) return stage[1];
  }
  return undefined;
}

/** Self time in µs per [area, detail] and inclusive time per stage, over the samples between `from` and `to` (profile clock, µs). */
function selfTime(profile: Profile, from: number, to: number) {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parents.set(child, node.id);
  const stageByNode = new Map<number, string | undefined>();
  const byArea = new Map<string, number>();
  const byDetail = new Map<string, number>();
  const byStage = new Map<string, number>();
  let at = profile.startTime;
  let idle = 0;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] as number;
    const next = profile.timeDeltas[i + 1] ?? 0;
    if (at < from || at > to) continue;
    const group = groupOf(frames.get(profile.samples[i] as number) as CallFrame);
    if (group === undefined) {
      idle += next;
      continue;
    }
    busy += next;
    const id = profile.samples[i] as number;
    if (!stageByNode.has(id)) stageByNode.set(id, stageOf(id, frames, parents));
    const stage = stageByNode.get(id);
    if (stage !== undefined) byStage.set(stage, (byStage.get(stage) ?? 0) + next);
    byArea.set(group[0], (byArea.get(group[0]) ?? 0) + next);
    const detail = `${group[0]} :: ${group[1]}`;
    byDetail.set(detail, (byDetail.get(detail) ?? 0) + next);
  }
  return { byArea, byDetail, byStage, idle, busy };
}

async function main(): Promise<void> {
  const values = benchFlags({ duration: 20, connections: 50, top: 25, json: null });
  const { duration: seconds, connections } = values;
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-stage-profile-'));
  const upstreams = [await startBenchUpstream(OTHER_CPU), await startBenchUpstream(OTHER_CPU)];
  const full = await startFullPath(upstreams, PROXY_CPU, OTHER_CPU, [
    '--cpu-prof',
    '--cpu-prof-dir',
    dir,
  ]);
  const pid = full.child.pid as number;
  await drive(full.url, 2, connections, OTHER_CPU, full.headers);
  // V8's profile clock and process.hrtime are both CLOCK_MONOTONIC, so the load window maps onto samples.
  const from = Number(process.hrtime.bigint() / 1000n);
  const cpuBefore = cpuSeconds(pid);
  const load = await drive(full.url, seconds, connections, OTHER_CPU, full.headers);
  const cpu = cpuSeconds(pid) - cpuBefore;
  const to = Number(process.hrtime.bigint() / 1000n);
  const exited = once(full.child, 'exit');
  full.child.kill('SIGTERM');
  await exited;
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no profile written to ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const requests = load.rps * seconds;
  const { byArea, byDetail, byStage, busy, idle } = selfTime(profile, from, to);
  if (busy === 0) throw new Error('no samples inside the load window');
  const usPerRequest = (self: number): number => ((self / busy) * cpu * 1e6) / requests;
  const total = (cpu * 1e6) / requests;
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, self]) => ({ name, us: usPerRequest(self), share: self / busy }));
  const areas = rows(byArea);
  const details = rows(byDetail).slice(0, values.top);
  console.log(
    `\nedgeway full path, CPU profile — ${new Date().toISOString()}, wrk c=${connections}, ${seconds} s, ${requests.toFixed(0)} requests (${load.rps.toFixed(0)} req/s, p99 ${load.p99Ms.toFixed(1)} ms, ${load.errors} errors); gateway pinned to CPU ${PROXY_CPU}`,
  );
  console.log(
    `process CPU ${cpu.toFixed(2)} s = ${total.toFixed(1)} µs per request; main thread busy in ${((busy / (busy + idle)) * 100).toFixed(0)}% of the profiled window\n`,
  );
  const print = (title: string, list: typeof areas): void => {
    console.log(`${title.padEnd(70)}${'µs/req'.padStart(8)}${'share'.padStart(8)}`);
    for (const r of list)
      console.log(
        `${r.name.slice(0, 69).padEnd(70)}${r.us.toFixed(2).padStart(8)}${`${(r.share * 100).toFixed(1)}%`.padStart(8)}`,
      );
    console.log('');
  };
  const family = (area: string): string =>
    area.startsWith('edgeway ')
      ? 'edgeway src/ (all)'
      : area.startsWith('node: ')
        ? 'node internals (JS)'
        : area.startsWith('V8: ') || area.startsWith('native')
          ? 'V8 and native code'
          : 'libraries';
  const families = new Map<string, number>();
  for (const [area, self] of byArea)
    families.set(family(area), (families.get(family(area)) ?? 0) + self);
  print('by family (self time)', rows(families));
  print('by stage (inclusive: its code, what it calls, its continuations)', rows(byStage));
  print('by area (self time)', areas);
  print(`top ${details.length} files and functions (self time)`, details);
  if (values.json !== undefined)
    writeFileSync(
      values.json,
      JSON.stringify(
        { requests, cpu, usPerRequest: total, stages: rows(byStage), areas, details },
        null,
        2,
      ),
    );
}

runAndExit(main);
