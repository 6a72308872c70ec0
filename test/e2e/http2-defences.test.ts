/** HTTP/2 defences, each proven by attacking one session while another client keeps getting 200s. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants, type ClientHttp2Session } from 'node:http2';
import { connect as tcpConnect, type Socket } from 'node:net';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { h2Connect, h2Request } from '../helpers/h2-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startVictim, type Victim } from '../helpers/victim.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One HTTP/2 frame (RFC 9113 4.1). */
function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal header field without indexing, new name (RFC 7541 6.2.2); name and value under 127 bytes. */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x00, name.length]),
    Buffer.from(name),
    Buffer.from([value.length]),
    Buffer.from(value),
  ]);
}

/** `promise`, or a failure naming `what` once `ms` passed (the defence did not act). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The type of each frame in what a server sent. */
function frameTypes(bytes: Buffer): number[] {
  const types: number[] = [];
  for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3))
    types.push(bytes.readUInt8(at + 3));
  return types;
}

async function victimStillServed(victim: ClientHttp2Session): Promise<void> {
  const answer = await h2Request(victim, {
    ':method': 'GET',
    ':path': '/fast',
    ':authority': 'gateway.test',
  });
  assert.equal(answer.status, 200);
}

describe('HTTP/2 defences', () => {
  let upstream: Upstream;
  let gw: TestGateway;
  let victim: ClientHttp2Session;
  /** The victim's requests while the attacks run, so its session is never idle. */
  let asking: Victim;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      const answer = (): void =>
        void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      if (req.url?.startsWith('/slow')) setTimeout(answer, 300);
      else answer();
    });
    gw = await startGateway({
      'gateway.yaml':
        'gateway:\n  h2c: true\n  maxHeaderBytes: 2048\n  http2Limits: { maxConcurrentStreams: 7, maxResetsPerSecond: 20, idleTimeout: 1s }\n',
      'services.yaml': `services:\n  up: { instances: ["${upstream.url}"] }\nroutes:\n  - { name: all, match: { path: / }, service: up }\n`,
    });
    victim = await h2Connect(gw.url);
    await victimStillServed(victim);
    asking = startVictim(async () => {
      const answer = await h2Request(victim, {
        ':method': 'GET',
        ':path': '/fast',
        ':authority': 'gateway.test',
      });
      return answer.status;
    });
  });

  after(async () => {
    await asking.stop();
    victim.close();
    await gw.stop();
    await upstream.close();
  });

  test('maxConcurrentStreams is advertised in SETTINGS', async () => {
    const session = await h2Connect(gw.url);
    try {
      if (session.remoteSettings.maxConcurrentStreams !== 7) await once(session, 'remoteSettings');
      assert.equal(session.remoteSettings.maxConcurrentStreams, 7);
      assert.equal(session.remoteSettings.maxHeaderListSize, 2048);
    } finally {
      session.close();
    }
  });

  test('rapid reset: more than maxResetsPerSecond cancelled streams get that session GOAWAY ENHANCE_YOUR_CALM', async () => {
    const attacker = await h2Connect(gw.url);
    const goaway = once(attacker, 'goaway');
    for (let i = 0; i < 60 && !attacker.destroyed && !attacker.closed; i++) {
      const stream = attacker.request({
        ':method': 'GET',
        ':path': '/slow',
        ':authority': 'gateway.test',
      });
      stream.on('error', () => undefined);
      stream.close(constants.NGHTTP2_CANCEL);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const [code] = (await within(goaway, 5000, 'GOAWAY for the attacker')) as [number];
    assert.equal(code, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    attacker.destroy();
    await victimStillServed(victim);
  });

  test('rapid reset in raw frames (HEADERS and RST_STREAM back to back) gets GOAWAY ENHANCE_YOUR_CALM', async () => {
    const socket: Socket = tcpConnect(gw.gateway.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    const closed = once(socket, 'close');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const block = Buffer.concat([
      Buffer.from([0x82, 0x84, 0x86]), // :method GET, :path /, :scheme http (static table)
      literal(':authority', 'gateway.test'),
    ]);
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(constants.NGHTTP2_CANCEL);
    const attack = [PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))];
    // 60 streams, each cancelled in the same write that opened it (HEADERS with END_STREAM|END_HEADERS).
    for (let id = 1; id < 120; id += 2)
      attack.push(frame(0x1, 0x5, id, block), frame(0x3, 0, id, cancel));
    socket.write(Buffer.concat(attack));
    await within(closed, 5000, 'the attacking connection to close');
    const bytes = Buffer.concat(received);
    const goawayCodes: number[] = [];
    for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3))
      if (bytes.readUInt8(at + 3) === 0x7) goawayCodes.push(bytes.readUInt32BE(at + 9 + 4));
    assert.equal(
      goawayCodes[0],
      constants.NGHTTP2_ENHANCE_YOUR_CALM,
      `GOAWAY codes ${goawayCodes}`,
    );
    await victimStillServed(victim);
  });

  test('a busy session whose streams all get answers is never taken for a rapid-reset attacker', async () => {
    const busy = await h2Connect(gw.url);
    let goaway = false;
    busy.on('goaway', () => (goaway = true));
    try {
      // 70 answered streams within about a second: 3.5 times maxResetsPerSecond, none of them cancelled.
      const statuses: number[] = [];
      for (let batch = 0; batch < 10; batch += 1) {
        const answers = await Promise.all(
          Array.from({ length: 7 }, () =>
            h2Request(busy, { ':method': 'GET', ':path': '/fast', ':authority': 'gateway.test' }),
          ),
        );
        statuses.push(...answers.map((answer) => answer.status));
      }
      assert.deepEqual(
        statuses,
        Array.from({ length: 70 }, () => 200),
      );
      assert.equal(goaway, false, 'the busy session got GOAWAY');
    } finally {
      busy.close();
    }
  });

  test('more than 256 header fields, each tiny and within maxHeaderBytes, get the stream reset and never reach the upstream', async () => {
    // The default maxHeaderBytes (16 KiB) holds 300 one-byte fields: only the count of fields refuses them.
    const roomy = await startGateway({
      'gateway.yaml': 'gateway:\n  h2c: true\n',
      'services.yaml': `services:\n  up: { instances: ["${upstream.url}"] }\nroutes:\n  - { name: all, match: { path: / }, service: up }\n`,
    });
    const attacker = await h2Connect(roomy.url);
    try {
      const fields = (count: number): Record<string, string> =>
        Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-p${i}`, 'v']));
      const send = (count: number): Promise<string> =>
        h2Request(attacker, {
          ':method': 'GET',
          ':path': `/fast?fields=${count}`,
          ':authority': 'gateway.test',
          ...fields(count),
        }).then(
          (answer) => `status ${answer.status}`,
          (err: NodeJS.ErrnoException) => err.code ?? 'error',
        );
      assert.equal(await send(200), 'status 200');
      assert.equal(await send(300), 'ERR_HTTP2_STREAM_ERROR');
      assert.deepEqual(
        upstream.seen
          .filter((seen) => seen.url.startsWith('/fast?fields='))
          .map((seen) => seen.url),
        ['/fast?fields=200'],
      );
    } finally {
      attacker.destroy();
      await roomy.stop();
    }
    await victimStillServed(victim);
  });

  test('a header list beyond maxHeaderBytes gets 431 headers_too_large, as over HTTP/1.1; other sessions are served', async () => {
    const attacker = await h2Connect(gw.url);
    try {
      const answer = await h2Request(attacker, {
        ':method': 'GET',
        ':path': '/fast',
        ':authority': 'gateway.test',
        'x-big': 'a'.repeat(4000),
      });
      assert.equal(answer.status, 431);
      assert.equal(
        (JSON.parse(answer.body) as { error: { code: string } }).error.code,
        'headers_too_large',
      );
      const huge = await h2Request(attacker, {
        ':method': 'GET',
        ':path': '/fast',
        ':authority': 'gateway.test',
        'x-huge': 'a'.repeat(100_000),
      }).then(
        (refused) => `status ${refused.status}`,
        (err: NodeJS.ErrnoException) => err.code ?? 'error',
      );
      assert.notEqual(huge, 'status 200');
    } finally {
      attacker.destroy();
    }
    await victimStillServed(victim);
  });

  test('a CONTINUATION flood (one header block in endless frames) ends the attacking connection', async () => {
    const socket: Socket = tcpConnect(gw.gateway.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    const closed = once(socket, 'close');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]));
    const block = Buffer.concat([
      Buffer.from([0x82, 0x84, 0x86]), // :method GET, :path /, :scheme http (static table)
      literal(':authority', 'gateway.test'),
    ]);
    // HEADERS with END_STREAM but not END_HEADERS, then CONTINUATION frames that never end the block.
    socket.write(frame(0x1, 0x1, 1, block));
    let sent = 0;
    for (let i = 0; i < 2000 && !socket.destroyed; i++) {
      const chunk = frame(0x9, 0, 1, literal(`x-flood-${i}`, 'v'.repeat(100)));
      sent += chunk.length;
      if (!socket.write(chunk)) await Promise.race([once(socket, 'drain'), closed]);
    }
    await closed;
    assert.ok(sent > 2048, 'the flood went past maxHeaderBytes before the connection ended');
    assert.ok(frameTypes(Buffer.concat(received)).includes(0x7), 'the gateway sent GOAWAY');
    assert.equal(
      upstream.seen.filter((seen) => seen.headers['x-flood-0'] !== undefined).length,
      0,
      'the flooded request never reached the upstream',
    );
    await victimStillServed(victim);
  });

  test('an idle session is closed with GOAWAY after idleTimeout', async () => {
    const idle = await h2Connect(gw.url);
    const started = Date.now();
    await within(once(idle, 'close'), 10_000, 'the idle session to close');
    assert.ok(Date.now() - started >= 900, 'not before idleTimeout');
    await victimStillServed(victim);
  });
});
