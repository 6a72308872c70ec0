/** Drives HTTP load with wrk when installed, else autocannon, and reads a process's CPU time from /proc. */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One load run's result. */
export interface LoadResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as { status?: number }).status === 1;
  }
}

/** The load tool in use. */
export const LOAD_TOOL = hasWrk() ? 'wrk' : 'autocannon';

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value.trim());
  if (!match) return Number.NaN;
  const n = Number(match[1]);
  return match[2] === 'us' ? n / 1000 : match[2] === 's' ? n * 1000 : n;
}

/** Runs load against `url` for `seconds` with `connections` keep-alive connections, the tool pinned to `cpu`. */
export async function drive(
  url: string,
  seconds: number,
  connections: number,
  cpu: string,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  const headerArgs = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  if (LOAD_TOOL === 'wrk') {
    const { stdout } = await run(
      'taskset',
      [
        '-c',
        cpu,
        'wrk',
        '-t1',
        `-c${connections}`,
        `-d${seconds}s`,
        '--latency',
        ...headerArgs,
        url,
      ],
      { maxBuffer: 1 << 20 },
    );
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
    const p50 = toMs(/\s50%\s+(\S+)/.exec(stdout)?.[1] ?? '');
    const p99 = toMs(/\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '');
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
    const socketErrors =
      /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    const errors =
      non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
    return { rps, p50Ms: p50, p99Ms: p99, errors };
  }
  const { stdout } = await run(
    'taskset',
    [
      '-c',
      cpu,
      'npx',
      'autocannon',
      '-j',
      '-c',
      String(connections),
      '-d',
      String(seconds),
      ...headerArgs,
      url,
    ],
    { maxBuffer: 1 << 24 },
  );
  const out = JSON.parse(stdout) as {
    requests: { average: number };
    latency: { p50: number; p99: number };
    errors: number;
    non2xx: number;
  };
  return {
    rps: out.requests.average,
    p50Ms: out.latency.p50,
    p99Ms: out.latency.p99,
    errors: out.errors + out.non2xx,
  };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident set size of a process in MB. */
export function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}
