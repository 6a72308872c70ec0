/** Starts the benchmark's processes (upstreams, proxies, gateways) pinned to CPUs, and stops them by PID. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { once } from 'node:events';

const started: ChildProcess[] = [];
let built = false;

/**
 * Compiles the project once per bench run: processes under load run dist/ JavaScript, so neither the gateway
 * nor the reference proxy pays for tsx's helpers (esbuild's keepNames wrappers) on the hot path.
 */
export function compiled(script: string): string {
  if (!built) {
    // Incremental: an unchanged tree recompiles in a third of the time. The build info lives in dist/, so
    // removing dist/ also forgets it and the next run builds everything.
    execFileSync(
      process.execPath,
      [
        'node_modules/typescript/bin/tsc',
        '-p',
        'tsconfig.json',
        '--incremental',
        '--tsBuildInfoFile',
        'dist/.bench.tsbuildinfo',
      ],
      { stdio: 'inherit' },
    );
    built = true;
  }
  return `dist/${script.replace(/\.ts$/, '.js')}`;
}

/** A free loopback port. */
export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  return port;
}

/**
 * Spawns `node --import tsx script args` pinned to `cpu`, resolving once it prints `marker`. With `stdout`
 * 'ignore' its stdout is /dev/null and only stderr is searched for the marker. `wrapper` runs node under
 * another program (valgrind).
 */
export async function startNode(
  cpu: string,
  args: string[],
  marker: string,
  env: NodeJS.ProcessEnv = {},
  stdout: 'pipe' | 'ignore' = 'pipe',
  wrapper: readonly string[] = [],
): Promise<ChildProcess> {
  // Its own process group, so stopAll also reaches what it forks (cluster workers).
  const child = spawn('taskset', ['-c', cpu, ...wrapper, process.execPath, ...args], {
    stdio: ['ignore', stdout, 'pipe'],
    env: { ...process.env, ...env },
    detached: true,
  });
  started.push(child);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes(marker)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)));
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

/** Starts a benchmark upstream; `delayMs` makes it slow. */
export async function startBenchUpstream(cpu: string, delayMs = 0): Promise<string> {
  const port = await freePort();
  await startNode(cpu, [compiled('bench/upstream.ts'), String(port), String(delayMs)], 'ready');
  return `http://127.0.0.1:${port}`;
}

/** Edgeway's semi-space size in MB: 4, as `npm start` and the Docker image run it, unless a bench's `--semi-space` says otherwise. */
let gatewaySemiSpaceMb = 4;

/** Sets the semi-space size every gateway started from now on runs with (a bench's `--semi-space MB`). */
export function setGatewaySemiSpace(mb: number): void {
  gatewaySemiSpaceMb = mb;
}

/**
 * Writes a gateway config folder and starts `edgeway start` on it (`nodeArgs` go to node; `main` is another
 * build's dist/src/cli/main.js when comparing builds; the access log goes to /dev/null unless `stdout` is 'pipe');
 * returns the port and the process.
 */
export async function startGatewayProcess(
  cpu: string,
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  extraArgs: string[] = [],
  nodeArgs: string[] = [],
  main: string = compiled('src/cli/main.ts'),
  stdout: 'pipe' | 'ignore' = 'ignore',
  wrapper: readonly string[] = [],
): Promise<{ port: number; adminPort: number; child: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeway-bench-'));
  writeFileSync(join(dir, 'config.yaml'), yaml);
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = await startNode(
    cpu,
    [
      `--max-semi-space-size=${gatewaySemiSpaceMb}`,
      ...nodeArgs,
      main,
      'start',
      '--config',
      dir,
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
      ...extraArgs,
    ],
    'edgeway listening',
    {
      EDGEWAY_DATA_DIR: join(dir, '.data'),
      // As in the Docker image: two malloc arenas rather than one per thread.
      MALLOC_ARENA_MAX: '2',
      ...env,
    },
    stdout,
    wrapper,
  );
  return { port, adminPort, child };
}

/** Kills every process the benchmark started. */
export function stopAll(): void {
  for (const child of started) {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
  }
}

/** Runs a bench entry point, stops every process it started, and exits 0 or 1. */
export function runAndExit(main: () => Promise<void>): void {
  main().then(
    () => {
      stopAll();
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      stopAll();
      process.exit(1);
    },
  );
}

/** An OTLP/HTTP receiver in its own process on `cpu`, so receiving costs the gateway's CPU nothing. */
export async function startOtlpReceiver(cpu: string): Promise<string> {
  const port = await freePort();
  await startNode(cpu, [compiled('bench/otlp-receiver.ts'), String(port)], 'ready');
  return `http://127.0.0.1:${port}`;
}
