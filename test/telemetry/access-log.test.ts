/** Access log lines: one JSON object per request with ids, no query string, and never a credential. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pino from 'pino';
import { waitFor } from '../helpers/wait-for.js';
import {
  REDACT_PATHS,
  createAccessLog,
  type AccessLogEntry,
} from '../../src/telemetry/access-log.js';

function capture(): {
  stream: Writable;
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
} {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const entry = (): AccessLogEntry => ({
  requestId: 'req-1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  route: 'orders-read',
  service: 'orders',
  instance: 'i-1',
  method: 'GET',
  path: '/orders/42?access_token=s3cr3t',
  status: 200,
  bytesIn: 0,
  bytesOut: 512,
  durationMs: 12.5,
  upstreamMs: 10.1,
  clientIp: '203.0.113.9',
  userAgent: 'curl/8',
  sub: 'client-7',
  attempts: 1,
  reason: undefined,
  error: undefined,
});

describe('access log', () => {
  test('a line carries request id, trace id and the documented fields, and no query string', () => {
    const { stream, lines } = capture();
    createAccessLog({ destination: stream }).write(entry());
    const [line] = lines();
    assert.ok(line);
    for (const key of [
      'time',
      'requestId',
      'traceId',
      'route',
      'service',
      'instance',
      'method',
      'path',
      'status',
      'bytesIn',
      'bytesOut',
      'durationMs',
      'upstreamMs',
      'clientIp',
      'userAgent',
    ]) {
      assert.ok(key in line, key);
    }
    assert.equal(line.requestId, 'req-1');
    assert.equal(line.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(line.path, '/orders/42');
    assert.equal(line.level, 'info', "the level is a word, not pino's 30");
    assert.equal(line.sub, 'client-7');
    assert.equal(line.attempts, 1);
    assert.ok(!('reason' in line) && !('error' in line), 'undefined fields are left out');
    assert.doesNotMatch(JSON.stringify(line), /s3cr3t/);
  });

  test("durations are written to the microsecond, without the clocks' float noise", () => {
    const { stream, text } = capture();
    createAccessLog({ destination: stream }).write({
      ...entry(),
      durationMs: 34.759354123,
      upstreamMs: 34.609112000000096,
    });
    assert.match(text(), /"durationMs":34\.759,"upstreamMs":34\.609,/);
  });

  test("a line is byte for byte what pino's info() wrote with the same options, time aside", () => {
    const ours = capture();
    const theirs = capture();
    const reference = pino(
      {
        base: undefined,
        formatters: { level: (label: string) => ({ level: label }) },
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
      },
      theirs.stream,
    );
    const log = createAccessLog({ destination: ours.stream });
    const entries: AccessLogEntry[] = [
      entry(),
      {
        ...entry(),
        service: undefined,
        instance: undefined,
        upstreamMs: undefined,
        sub: undefined,
        userAgent: 'quote " backslash \\ tab \t nul \u0000 é 𝄞 \u2028',
        path: `/${'long-'.repeat(40)}`,
        status: 502,
        durationMs: Number.NaN,
        reason: 'connect-failure',
        error: 'no healthy instance of service "orders"',
      },
      { ...entry(), closedBy: 'client' },
    ];
    for (const e of entries) {
      log.write({ ...e });
      const copy = { ...e };
      copy.path = copy.path.split('?')[0] as string;
      reference.info(copy);
    }
    const stamp = /^\{"level":"info","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",/;
    for (const line of ours
      .text()
      .split('\n')
      .filter((l) => l !== ''))
      assert.match(line, stamp);
    assert.equal(
      ours.text().replace(/"time":"[^"]*"/g, ''),
      theirs.text().replace(/"time":"[^"]*"/g, ''),
    );
  });

  test('every field is written as JSON.stringify writes it, whatever characters it holds', () => {
    const { stream, text } = capture();
    const log = createAccessLog({ destination: stream });
    // One character class per value: a value with a quote would hide a missed control character.
    const awkward = [
      'q"',
      'b\\',
      'nul \u0000',
      'us \u001f',
      'lone \ud800',
      'lone \udc00x',
      'é 😀 \u2028 \u007f',
    ];
    const fields = ['requestId', 'traceId', 'route', 'service', 'instance', 'method', 'path'];
    const expected: string[] = [];
    for (const field of [
      ...fields,
      'clientIp',
      'userAgent',
      'sub',
      'reason',
      'error',
      'closedBy',
    ]) {
      for (const value of awkward) {
        const e: AccessLogEntry = { ...entry(), path: '/orders/42', [field]: value };
        expected.push(JSON.stringify(e).slice(1));
        log.write(e);
      }
    }
    const numbers: AccessLogEntry = {
      ...entry(),
      path: '/orders/42',
      status: 0,
      bytesIn: -0,
      bytesOut: 1e21,
      durationMs: Number.POSITIVE_INFINITY,
      upstreamMs: 1.5e-7,
      attempts: Number.NaN,
    };
    log.write({ ...numbers });
    expected.push(JSON.stringify({ ...numbers, durationMs: null, upstreamMs: 0 }).slice(1));
    const lines = text()
      .split('\n')
      .filter((l) => l !== '');
    assert.deepEqual(
      lines.map((l) => l.replace(/^\{"level":"info","time":"[^"]*",/, '')),
      expected,
    );
  });

  test('the time is the ISO time of the millisecond the line was written', () => {
    const { stream, lines } = capture();
    const times = [
      1764558659005, 1764558659005, 1764558659042, 1764558659999, 1764558660000, 946684799123,
    ];
    let i = 0;
    const log = createAccessLog({ destination: stream, now: () => times[i] as number });
    for (i = 0; i < times.length; i++) log.write(entry());
    assert.deepEqual(
      lines().map((l) => l.time),
      times.map((t) => new Date(t).toISOString()),
    );
  });

  test('credentials logged by mistake are redacted, whatever the shape', () => {
    const { stream, lines } = capture();
    const log = pino({ redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, stream);
    const bearer = 'Bearer eyJhbGciOiJFUzI1NiJ9.secret.sig';
    log.info({
      authorization: bearer,
      headers: { authorization: bearer, cookie: 'sid=1' },
      req: { headers: { authorization: bearer } },
      token: 'tok',
      adminToken: 'adm',
      client: { clientSecret: 'cs' },
    });
    const text = JSON.stringify(lines());
    for (const secret of ['eyJhbGciOiJFUzI1NiJ9', 'sid=1', '"tok"', '"adm"', '"cs"'])
      assert.ok(!text.includes(secret), secret);
    assert.match(text, /\[redacted\]/);
  });

  test('a stdout reader that stops reading makes the log drop lines, not buffer them without bound', async () => {
    // 20,000 lines of ~330 B (~6.6 MB) into a pipe nobody reads, with a 256 KiB bound: the child's heap
    // must not grow by the lines' size, and stderr must say lines were dropped.
    const script = `
      import { createAccessLog } from ${JSON.stringify(new URL('../../src/telemetry/access-log.ts', import.meta.url).pathname)};
      const log = createAccessLog({ maxBufferedBytes: 256 * 1024 });
      const entry = ${JSON.stringify(entry())};
      globalThis.gc();
      const before = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 20000; i++) log.write({ ...entry, requestId: 'r' + i });
      globalThis.gc();
      const grown = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - before;
      process.stderr.write('grown ' + grown + '\\n');
      process.exit(0);
    `;
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    await waitFor(() => /grown -?\d+/.test(stderr), 60_000, "the child's heap growth");
    // Let the child's exit-time flush finish into the pipe before it is read away.
    child.stdout.resume();
    const [code] = (await exited) as [number];
    assert.equal(code, 0, stderr);
    assert.match(stderr, /edgeway: access log reader is behind; \d+ line\(s\) dropped/);
    const grown = Number(/grown (-?\d+)/.exec(stderr)?.[1]);
    assert.ok(grown < 3 * 1024 * 1024, `heap grew ${grown} bytes for 6.6 MB of lines`);
  });

  test("the default stdout destination writes a quiet gateway's line within a second, and the rest at exit", async () => {
    const script = `
      import { createAccessLog } from ${JSON.stringify(new URL('../../src/telemetry/access-log.ts', import.meta.url).pathname)};
      const log = createAccessLog();
      const entry = ${JSON.stringify(entry())};
      log.write({ ...entry, requestId: 'first' });
      process.stderr.write('wrote\\n');
      setTimeout(() => { log.write({ ...entry, requestId: 'last' }); process.exit(0); }, 3000);
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let wroteAt = Infinity;
    child.stderr.once('data', () => {
      wroteAt = Date.now();
    });
    const arrivals: Array<{ id: string; ms: number }> = [];
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      for (const line of lines)
        arrivals.push({ id: String(JSON.parse(line).requestId), ms: Date.now() - wroteAt });
    });
    const [code] = (await once(child, 'exit')) as [number];
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(code, 0);
    assert.deepEqual(
      arrivals.map((a) => a.id),
      ['first', 'last'],
    );
    // 'first' waits in a 4 KiB buffer that it does not fill: only the periodic flush writes it, within a
    // second (some slack for a busy machine), long before the child writes 'last' and exits 3 s later.
    assert.ok((arrivals[0]?.ms ?? Infinity) < 1500, `first line after ${arrivals[0]?.ms} ms`);
  });

  test('the default async destination flushes on demand', async () => {
    const log = createAccessLog({ minLength: 0 });
    await log.flush();
  });
});
