/**
 * WebSocket benchmark (not part of npm test): echo round-trip latency through edgeway (HTTP/1.1, and HTTP/2 by
 * RFC 8441 on h2c) vs direct to the upstream, then N idle connections held through edgeway with the gateway's
 * RSS before and after.
 * Run: `node --import tsx bench/websocket.ts [--idle 5000] [--rounds 2000]`. Needs `ulimit -n` above 2 x idle + 100.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { benchFlags } from './args.js';
import { h2Connect } from '../test/helpers/h2-client.js';
import { openedH2WebSocket } from '../test/helpers/h2-websocket.js';
import { freePort } from '../test/helpers/redis-server.js';

function rssMb(pid: number): number {
  const line =
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:')) ?? '0';
  return Math.round(Number(/\d+/.exec(line)?.[0] ?? 0) / 1024);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

/** `rounds` sequential 64-byte echoes on one connection: p50 and p99 in ms. */
async function roundTrips(url: string, rounds: number): Promise<{ p50: number; p99: number }> {
  const socket = new WebSocket(url);
  await once(socket, 'open');
  const payload = Buffer.alloc(64, 7);
  const times: number[] = [];
  for (let i = 0; i < rounds + 200; i++) {
    const started = performance.now();
    socket.send(payload);
    await once(socket, 'message');
    if (i >= 200) times.push(performance.now() - started); // the first 200 warm up
  }
  socket.close();
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

/** The same echoes over an extended CONNECT stream on an h2c connection. */
async function roundTripsH2(origin: string, rounds: number): Promise<{ p50: number; p99: number }> {
  const session = await h2Connect(origin);
  const socket = await openedH2WebSocket(session, '/');
  const payload = Buffer.alloc(64, 7);
  const times: number[] = [];
  for (let i = 0; i < rounds + 200; i++) {
    const started = performance.now();
    socket.send(payload);
    await socket.next();
    if (i >= 200) times.push(performance.now() - started); // the first 200 warm up
  }
  session.destroy();
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

async function main(): Promise<void> {
  const { idle, rounds } = benchFlags({ idle: 5000, rounds: 2000 });
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) =>
    socket.on('message', (data, binary) => socket.send(data, { binary })),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const upstream = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'edgeway-ws-bench-'));
  writeFileSync(
    join(dir, 'c.yaml'),
    `gateway:\n  h2c: true\nservices:\n  echo: { instances: [http://${upstream}] }\nroutes:\n  - { name: echo, match: { path: / }, service: echo, websocket: { maxConnections: ${idle + 10} } }\n`,
  );
  const [port, adminPort] = [await freePort(), await freePort()];
  const gateway = spawn(
    process.execPath,
    [
      'bin/edgeway.js',
      'start',
      '--config',
      dir,
      '--port',
      String(port),
      '--admin-port',
      String(adminPort),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: '', EDGEWAY_DATA_DIR: join(dir, '.data') },
    },
  );
  gateway.stdout.resume();
  let log = '';
  gateway.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  while (!log.includes('edgeway listening')) {
    if (gateway.exitCode !== null) throw new Error(log);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const pid = gateway.pid as number;
  try {
    const direct = await roundTrips(`ws://${upstream}/`, rounds);
    const through = await roundTrips(`ws://127.0.0.1:${port}/`, rounds);
    const overH2 = await roundTripsH2(`http://127.0.0.1:${port}`, rounds);
    console.log(
      `echo round trip (64 B, ${rounds} sequential): direct p50 ${direct.p50.toFixed(3)} ms p99 ${direct.p99.toFixed(3)} ms; edgeway p50 ${through.p50.toFixed(3)} ms p99 ${through.p99.toFixed(3)} ms; edgeway over HTTP/2 p50 ${overH2.p50.toFixed(3)} ms p99 ${overH2.p99.toFixed(3)} ms`,
    );

    const before = rssMb(pid);
    const sockets: WebSocket[] = [];
    for (let batch = 0; batch < idle; batch += 250) {
      const opening: Promise<unknown>[] = [];
      for (let i = batch; i < Math.min(idle, batch + 250); i++) {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/idle/${i}`);
        sockets.push(socket);
        opening.push(once(socket, 'open'));
      }
      await Promise.all(opening);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const held = rssMb(pid);
    console.log(
      `${sockets.length} idle WebSocket connections held: gateway RSS ${before} MB before, ${held} MB with them (${(((held - before) * 1024) / idle).toFixed(1)} KiB each)`,
    );
    for (const socket of sockets) socket.terminate();
  } finally {
    gateway.kill('SIGKILL');
    wss.close();
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
