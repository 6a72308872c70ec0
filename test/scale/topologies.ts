/** Throwaway Redis Cluster (3 masters) and Sentinel (master + replica + 3 sentinels) made of real redis-server processes. */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);

async function portIsFree(port: number): Promise<boolean> {
  const srv = createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose Cluster bus port (port + 10000) is free too; never 6379. */
export async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    if (port !== 6379 && (await portIsFree(port)) && (await portIsFree(port + 10000))) return port;
  }
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout;
}

/** The processes of one topology, stopped by PID. */
class Processes {
  readonly dir = mkdtempSync(join(tmpdir(), 'edgeway-topology-'));
  readonly children = new Map<number, ChildProcess>();

  constructor() {
    // A crashed test process must not leave servers behind: kill them (sync) as the process exits.
    process.once('exit', () => {
      for (const child of this.children.values())
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  }

  async spawn(args: string[], port: number): Promise<ChildProcess> {
    const child = spawn('redis-server', args, { stdio: 'ignore', cwd: this.dir });
    this.children.set(port, child);
    await waitFor(
      async () => (await redisCli(port, 'PING')).trim() === 'PONG',
      5000,
      `redis-server on ${port}`,
      100,
    );
    return child;
  }

  /** SIGKILLs the process on `port` and waits for it to exit. */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    process.kill(child.pid as number, 'SIGKILL');
    await exited;
  }

  async stopAll(): Promise<void> {
    for (const port of this.children.keys()) await this.kill(port);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const BASE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

/** A running 3-master Cluster. */
export interface TestCluster {
  readonly ports: readonly number[];
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts three cluster-enabled servers and joins them with `redis-cli --cluster create` (no replicas). */
export async function startCluster(): Promise<TestCluster> {
  const procs = new Processes();
  const ports: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freeClusterPort();
      ports.push(port);
      await procs.spawn(
        [
          '--port',
          String(port),
          ...BASE,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(procs.dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          '2000',
        ],
        port,
      );
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports)
      await waitFor(
        async () => (await redisCli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
        20_000,
        `cluster_state:ok on ${port}`,
        100,
      );
  } catch (err) {
    await procs.stopAll();
    throw err;
  }
  return {
    ports,
    url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
    stop: () => procs.stopAll(),
  };
}

/** A running Sentinel set: one master, one replica, three sentinels monitoring `mymaster`. */
export interface TestSentinel {
  readonly masterPort: number;
  readonly replicaPort: number;
  readonly sentinelPorts: readonly number[];
  /** `redis+sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/mymaster` */
  readonly url: string;
  /** SIGKILLs the current master. */
  killMaster(): Promise<void>;
  /** The port Sentinel currently names as master. */
  currentMasterPort(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts master + replica + 3 sentinels with short timings (down after 1 s, failover timeout 3 s). */
export async function startSentinel(): Promise<TestSentinel> {
  const procs = new Processes();
  const [masterPort, replicaPort, ...sentinelPorts] = [
    await freeClusterPort(),
    await freeClusterPort(),
    await freeClusterPort(),
    await freeClusterPort(),
    await freeClusterPort(),
  ] as [number, number, number, number, number];
  try {
    await procs.spawn(['--port', String(masterPort), ...BASE], masterPort);
    await procs.spawn(
      ['--port', String(replicaPort), ...BASE, '--replicaof', '127.0.0.1', String(masterPort)],
      replicaPort,
    );
    await waitFor(
      async () =>
        (await redisCli(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
      20_000,
      'replica in sync',
      100,
    );
    for (const port of sentinelPorts) {
      const conf = join(procs.dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${procs.dir}`,
          `sentinel monitor mymaster 127.0.0.1 ${masterPort} 2`,
          'sentinel down-after-milliseconds mymaster 1000',
          'sentinel failover-timeout mymaster 3000',
          'sentinel parallel-syncs mymaster 1',
          '',
        ].join('\n'),
      );
      await procs.spawn([conf, '--sentinel'], port);
    }
    // A failover needs a majority of sentinels that know each other and the replica (hello messages, every 2 s).
    for (const port of sentinelPorts) {
      await waitFor(
        async () => {
          const peers = await redisCli(port, 'SENTINEL', 'SENTINELS', 'mymaster');
          const replicas = await redisCli(port, 'SENTINEL', 'REPLICAS', 'mymaster');
          return (
            (peers.match(/^name$/gm) ?? []).length === 2 && replicas.includes(String(replicaPort))
          );
        },
        20_000,
        `sentinel ${port} sees its peers and the replica`,
        100,
      );
    }
  } catch (err) {
    await procs.stopAll();
    throw err;
  }
  const first = sentinelPorts[0] as number;
  return {
    masterPort,
    replicaPort,
    sentinelPorts,
    url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/mymaster`,
    killMaster: async () => procs.kill(await currentMaster(first)),
    currentMasterPort: () => currentMaster(first),
    stop: () => procs.stopAll(),
  };
}

async function currentMaster(sentinelPort: number): Promise<number> {
  const reply = (await redisCli(sentinelPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster'))
    .trim()
    .split('\n');
  return Number(reply[1]);
}
