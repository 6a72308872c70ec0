/** The relay on real loopback sockets: either side's end closes the other; a policy close keeps frames whole, then 1008 and FIN. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { closeFrame, FrameBoundary } from '../../src/proxy/websocket/frame-boundary.js';
import { type RelayOptions, StreamRelay } from '../../src/proxy/websocket/relay.js';

/** An unmasked server frame with `payloadLength` bytes of payload (7-bit, 16-bit or 64-bit length form). */
function frame(payloadLength: number, opcode = 0x2, maskKey?: Buffer): Buffer {
  const payload = Buffer.alloc(payloadLength, 0x61);
  const maskBit = maskKey === undefined ? 0 : 0x80;
  let head: Buffer;
  if (payloadLength < 126) head = Buffer.from([0x80 | opcode, maskBit | payloadLength]);
  else if (payloadLength < 65_536) {
    head = Buffer.from([0x80 | opcode, maskBit | 126, 0, 0]);
    head.writeUInt16BE(payloadLength, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(payloadLength), 2);
  }
  return Buffer.concat(maskKey === undefined ? [head, payload] : [head, maskKey, payload]);
}

describe('FrameBoundary', () => {
  const cases: ReadonlyArray<readonly [string, Buffer[]]> = [
    ['empty and short frames', [frame(0), frame(5), frame(125)]],
    ['16-bit and 64-bit lengths', [frame(126), frame(65_535), frame(70_000)]],
    [
      'masked client frames',
      [frame(3, 0x1, Buffer.from([1, 2, 3, 4])), frame(300, 0x2, Buffer.from([9, 9, 9, 9]))],
    ],
    ['a control frame between data frames', [frame(10), closeFrame(1000, 'bye', false), frame(1)]],
  ];
  for (const [name, frames] of cases) {
    test(`finds every frame end, whatever the chunking: ${name}`, () => {
      const stream = Buffer.concat(frames);
      const ends: number[] = [];
      let total = 0;
      for (const f of frames) ends.push((total += f.length));
      for (const chunkSize of [1, 2, 3, 7, 13, 1000, stream.length]) {
        const tracker = new FrameBoundary();
        const found: number[] = [];
        for (let offset = 0; offset < stream.length; offset += chunkSize) {
          let chunk = stream.subarray(offset, offset + chunkSize);
          let base = offset;
          while (chunk.length > 0) {
            const used = tracker.advance(chunk, true);
            if (tracker.atBoundary) found.push(base + used);
            chunk = chunk.subarray(used);
            base += used;
          }
        }
        assert.deepEqual(found, ends, `chunks of ${chunkSize}`);
      }
    });
  }

  test('a close frame carries its code and reason, masked towards a server', () => {
    assert.deepEqual(closeFrame(1008, 'x', false), Buffer.from([0x88, 3, 0x03, 0xf0, 0x78]));
    const masked = closeFrame(1008, 'x', true, Buffer.from([1, 2, 3, 4]));
    assert.deepEqual(masked, Buffer.from([0x88, 0x83, 1, 2, 3, 4, 0x03 ^ 1, 0xf0 ^ 2, 0x78 ^ 3]));
  });
});

/** Two connected loopback sockets. */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const near = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [far] = await accepted;
  await once(near, 'connect');
  server.close();
  return [near, far];
}

/** Everything `socket` receives until its peer's FIN; `ended` rejects if the socket fails instead. */
function collect(socket: Socket): { data: () => Buffer; ended: Promise<unknown> } {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(socket, 'end');
  // A test that does not wait for the FIN (the socket is reset) must not fail on an unawaited rejection.
  ended.catch(() => undefined);
  return { data: () => Buffer.concat(chunks), ended };
}

/**
 * A relay (frames tracked unless `options` say otherwise) between two loopback connections, whose far ends
 * stand for the client and the upstream and record what they receive; `destroy` closes those ends.
 */
async function relayed(options: Partial<RelayOptions> = {}): Promise<{
  relay: StreamRelay;
  clientPeer: Socket;
  upstreamPeer: Socket;
  gatewayClientSide: Socket;
  atClient: ReturnType<typeof collect>;
  atUpstream: ReturnType<typeof collect>;
  destroy: () => void;
}> {
  const [clientPeer, gatewayClientSide] = await socketPair();
  const [gatewayUpstreamSide, upstreamPeer] = await socketPair();
  const relay = new StreamRelay(gatewayClientSide, gatewayUpstreamSide, {
    idleTimeoutMs: 60_000,
    trackFrames: true,
    ...options,
  });
  clientPeer.on('error', () => undefined);
  upstreamPeer.on('error', () => undefined);
  return {
    relay,
    clientPeer,
    upstreamPeer,
    gatewayClientSide,
    atClient: collect(clientPeer),
    atUpstream: collect(upstreamPeer),
    destroy: () => {
      clientPeer.destroy();
      upstreamPeer.destroy();
    },
  };
}

async function received(socket: { data: () => Buffer }, bytes: number): Promise<void> {
  while (socket.data().length < bytes) await new Promise((resolve) => setImmediate(resolve));
}

describe('StreamRelay.closeForPolicy', () => {
  test('waits for the end of the upstream frame in flight, then sends 1008 to the client and a masked Close upstream', async () => {
    const { relay, upstreamPeer, atClient, atUpstream, destroy } = await relayed();
    const message = frame(1000);
    upstreamPeer.write(message.subarray(0, 600));
    await received(atClient, 600);

    relay.closeForPolicy('token_revoked', 'token revoked');
    upstreamPeer.write(Buffer.concat([message.subarray(600), frame(50)]));
    await atClient.ended;
    assert.deepEqual(
      atClient.data(),
      Buffer.concat([message, closeFrame(1008, 'token revoked', false)]),
      'the frame whole, then the Close; the next frame dropped',
    );

    await atUpstream.ended;
    const close = atUpstream.data();
    assert.equal(close[0], 0x88);
    assert.equal((close[1] as number) & 0x80, 0x80, 'masked (RFC 6455 5.3)');
    const key = close.subarray(2, 6);
    const payload = Buffer.from(close.subarray(6).map((byte, i) => byte ^ (key[i % 4] as number)));
    assert.equal(payload.readUInt16BE(0), 1008);
    assert.equal(payload.subarray(2).toString(), 'token revoked');
    assert.equal((await relay.done).closedBy, 'token_revoked');
    destroy();
  });

  test('an upstream that never finishes its frame does not keep the client connected', async () => {
    const { relay, clientPeer, upstreamPeer, atClient } = await relayed();
    upstreamPeer.write(frame(1000).subarray(0, 100));
    await received(atClient, 100);
    relay.closeForPolicy('token_revoked', 'token revoked');
    await Promise.all([once(clientPeer, 'close'), once(upstreamPeer, 'close')]);
    assert.equal((await relay.done).closedBy, 'token_revoked');
    assert.equal(atClient.data().length, 100, 'no Close inside the frame');
  });

  test("bytes read off with the upstream's handshake count as frame bytes too", async () => {
    const message = frame(1000);
    const { relay, upstreamPeer, atClient, destroy } = await relayed({
      upstreamHead: message.subarray(0, 300),
    });
    await received(atClient, 300);
    relay.closeForPolicy('token_revoked', 'token revoked');
    upstreamPeer.write(message.subarray(300));
    await atClient.ended;
    assert.deepEqual(
      atClient.data(),
      Buffer.concat([message, closeFrame(1008, 'token revoked', false)]),
    );
    destroy();
  });

  test('a client in the middle of its frame gets no Close upstream, and nothing more of its own is relayed', async () => {
    const { relay, clientPeer, upstreamPeer, atClient, atUpstream, destroy } = await relayed();
    const fromClient = frame(1000, 0x2, Buffer.from([5, 6, 7, 8]));
    const fromUpstream = frame(1000);
    clientPeer.write(fromClient.subarray(0, 600));
    upstreamPeer.write(fromUpstream.subarray(0, 100));
    await Promise.all([received(atUpstream, 600), received(atClient, 100)]);

    relay.closeForPolicy('token_revoked', 'token revoked');
    // While the upstream's frame is finished, the rest of the client's must not follow its first part.
    clientPeer.write(fromClient.subarray(600));
    await new Promise((resolve) => setTimeout(resolve, 50));
    upstreamPeer.write(fromUpstream.subarray(100));
    await Promise.all([atClient.ended, atUpstream.ended]);
    assert.deepEqual(
      atUpstream.data(),
      fromClient.subarray(0, 600),
      'the part already sent, then FIN: a Close inside the frame would corrupt it',
    );
    assert.deepEqual(
      atClient.data(),
      Buffer.concat([fromUpstream, closeFrame(1008, 'token revoked', false)]),
    );
    assert.equal((await relay.done).closedBy, 'token_revoked');
    destroy();
  });

  test("bytes read off with the client's handshake count as frame bytes too", async () => {
    const fromClient = frame(1000, 0x2, Buffer.from([5, 6, 7, 8]));
    const { relay, atClient, atUpstream, destroy } = await relayed({
      clientHead: fromClient.subarray(0, 300),
    });
    await received(atUpstream, 300);
    relay.closeForPolicy('token_revoked', 'token revoked');
    await Promise.all([atClient.ended, atUpstream.ended]);
    assert.deepEqual(atUpstream.data(), fromClient.subarray(0, 300), 'no Close inside the frame');
    assert.deepEqual(atClient.data(), closeFrame(1008, 'token revoked', false));
    destroy();
  });

  test('between frames the Close goes out at once', async () => {
    const { relay, upstreamPeer, atClient, destroy } = await relayed();
    upstreamPeer.write(frame(20));
    await received(atClient, 22);
    relay.closeForPolicy('token_expired', 'token expired');
    await atClient.ended;
    assert.deepEqual(
      atClient.data(),
      Buffer.concat([frame(20), closeFrame(1008, 'token expired', false)]),
    );
    assert.equal((await relay.done).closedBy, 'token_expired');
    destroy();
  });
});

describe('StreamRelay ends', () => {
  test('a client FIN (half-close) reaches the upstream and closes both sides', async () => {
    const { relay, clientPeer, atClient, atUpstream, destroy } = await relayed({
      trackFrames: false,
    });
    clientPeer.end(Buffer.from('last words'));
    await atUpstream.ended;
    assert.equal(atUpstream.data().toString(), 'last words');
    await atClient.ended;
    assert.equal((await relay.done).closedBy, 'client');
    destroy();
  });

  test('an upstream reset closes the client side', async () => {
    const { relay, clientPeer, upstreamPeer } = await relayed({ trackFrames: false });
    const clientClosed = once(clientPeer, 'close');
    upstreamPeer.resetAndDestroy();
    await clientClosed;
    assert.equal((await relay.done).closedBy, 'upstream');
  });
});

describe('StreamRelay idle timeout and stuck peers', () => {
  test('traffic either way keeps it open; silence past idleTimeoutMs closes both sides', async () => {
    const { relay, clientPeer, upstreamPeer, atClient, atUpstream, destroy } = await relayed({
      idleTimeoutMs: 400,
      trackFrames: false,
    });
    let ended = false;
    void relay.done.then(() => (ended = true));
    // 1.2 s of traffic, three idle timeouts' worth: the client talks, then the upstream.
    for (let i = 0; i < 24; i += 1) {
      (i < 12 ? clientPeer : upstreamPeer).write('x');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(ended, false, 'closed while traffic flowed');
    const silentFrom = Date.now();
    assert.equal((await relay.done).closedBy, 'idle_timeout');
    assert.ok(Date.now() - silentFrom >= 300, `closed ${Date.now() - silentFrom} ms into silence`);
    await Promise.all([atClient.ended, atUpstream.ended]);
    assert.equal(atUpstream.data().toString(), 'x'.repeat(12));
    assert.equal(atClient.data().toString(), 'x'.repeat(12));
    destroy();
  });

  test('a client that stopped reading is reset after the FIN grace period instead of held open', async () => {
    const { relay, clientPeer, upstreamPeer, gatewayClientSide, destroy } = await relayed({
      trackFrames: false,
    });
    clientPeer.pause();
    // More than the loopback socket buffers hold: the relay cannot flush it to a client that does not read.
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 64 && upstreamPeer.write(chunk); i += 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(gatewayClientSide.writableNeedDrain, true, 'the client side is backed up');
    relay.close('shutdown');
    const outcome = await Promise.race([
      once(gatewayClientSide, 'close').then(() => 'reset'),
      new Promise((resolve) => setTimeout(() => resolve('held open'), 6000)),
    ]);
    assert.equal(outcome, 'reset');
    assert.equal((await relay.done).closedBy, 'shutdown');
    destroy();
  });
});

describe('StreamRelay client errors', () => {
  test('a client reset closes the upstream side and is not an uncaught error', async () => {
    const { relay, clientPeer, upstreamPeer } = await relayed({ trackFrames: false });
    const upstreamClosed = once(upstreamPeer, 'close');
    // Data in flight towards the gateway's client side makes the reset surface there as ECONNRESET.
    upstreamPeer.write(Buffer.alloc(64 * 1024));
    clientPeer.resetAndDestroy();
    await upstreamClosed;
    assert.equal((await relay.done).closedBy, 'client');
  });
});
