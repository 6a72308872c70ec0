/** GrpcFrames finds where gRPC messages end, whatever the chunking, and says when a stream stops inside one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcFrames } from '../../src/proxy/grpc-frames.js';

function frame(length: number, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(length, 1);
  return Buffer.concat([head, Buffer.alloc(length, 0x61)]);
}

const cases: ReadonlyArray<readonly [string, Buffer, boolean]> = [
  ['nothing', Buffer.alloc(0), true],
  ['an empty message', frame(0), true],
  [
    'messages of 1, 300 and 70,000 bytes',
    Buffer.concat([frame(1), frame(300), frame(70_000)]),
    true,
  ],
  ['a compressed message and a trailers frame', Buffer.concat([frame(3, 1), frame(9, 0x80)]), true],
  ['a head cut after 3 bytes', frame(10).subarray(0, 3), false],
  ['a message 1 byte short', frame(10).subarray(0, 14), false],
  [
    'a whole message, then part of a head',
    Buffer.concat([frame(2), frame(2).subarray(0, 1)]),
    false,
  ],
];
for (const [name, stream, whole] of cases) {
  test(`${name}: ${whole ? 'ends between frames' : 'ends inside a frame'}, in chunks of any size`, () => {
    for (const size of [1, 2, 4, 5, 7, 64, Math.max(1, stream.length)]) {
      const frames = new GrpcFrames();
      for (let at = 0; at < stream.length; at += size)
        frames.advance(stream.subarray(at, at + size));
      assert.equal(frames.atBoundary, whole, `chunks of ${size}`);
    }
  });
}
