/** `edgeway demo` as a child process: it starts, its printed curl lines work, and SIGINT stops every process it started. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli, type CliProcess } from './cli-process.js';

const exec = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** PIDs of the demo upstream processes `pid` started (tsx also runs an esbuild child, which is not ours). */
async function upstreamPids(pid: number): Promise<number[]> {
  const { stdout } = await exec('ps', ['-o', 'pid=,args=', '--ppid', String(pid)]);
  return stdout
    .split('\n')
    .filter((line) => line.includes('demo-upstream'))
    .map((line) => Number.parseInt(line.trim(), 10));
}

describe('edgeway demo', () => {
  let dataDir: string;
  let demo: CliProcess;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'edgeway-demo-'));
    demo = runCli(['demo', '--port', '0', '--admin-port', '0'], {
      EDGEWAY_DATA_DIR: dataDir,
      EDGEWAY_CONFIG: undefined,
    });
    await demo.waitFor('Ctrl-C stops everything.', 30_000);
  });
  after(async () => {
    await demo.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the printed curl line for the public route reaches a demo upstream', async () => {
    const line = demo
      .stdout()
      .split('\n')
      .find((l) => /curl -i http:\/\/127\.0\.0\.1:\d+\/echo\/hello/.test(l));
    assert.ok(line, demo.stdout());
    const { stdout } = await exec('sh', ['-c', line.trim()]);
    assert.match(stdout, /^HTTP\/1\.1 200/);
    assert.match(stdout, /"instance": "demo-[12]"/);
    assert.match(stdout, /"url": "\/hello"/);
  });

  test('the printed services line lists both demo instances', async () => {
    const line = demo
      .stdout()
      .split('\n')
      .find((l) => l.includes('/admin/services'));
    assert.ok(line);
    const { stdout } = await exec('sh', ['-c', line.trim()]);
    const { services } = JSON.parse(stdout) as {
      services: Array<{ name: string; instances: Array<{ id: string }> }>;
    };
    assert.deepEqual(
      services.find((s) => s.name === 'echo')?.instances.map((i) => i.id),
      ['demo-1', 'demo-2'],
    );
  });

  test('the private route works with the printed token, or the demo says how to get one', async () => {
    const line = demo
      .stdout()
      .split('\n')
      .find((l) => l.includes('/private/hello') && l.includes('Bearer ey'));
    if (line === undefined) {
      assert.match(demo.stdout(), /edgeway token issue --sub demo --scope "echo:read"/);
      return;
    }
    const { stdout } = await exec('sh', ['-c', line.trim()]);
    assert.match(stdout, /^HTTP\/1\.1 200/);
  });

  test('SIGINT stops the gateway and both upstream processes', async () => {
    const pid = demo.child.pid as number;
    const children = await upstreamPids(pid);
    assert.equal(
      children.length,
      2,
      `expected the two demo upstream processes, found ${children.join(', ')}`,
    );
    const gatewayUrl = /gateway (http:\/\/127\.0\.0\.1:\d+)/.exec(demo.stdout())?.[1] as string;
    demo.child.kill('SIGINT');
    assert.equal(await demo.exited(), 0, demo.stderr());
    for (const child of children)
      assert.equal(alive(child), false, `demo upstream ${child} still running`);
    await assert.rejects(fetch(gatewayUrl), 'the gateway no longer listens');
  });
});
