/** gRPC-Web wire details edgeway translates: flavours, header rewrites, the trailers frame, base64 in pieces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { GatewayError } from '../../src/errors.js';
import { grpcAnswerType } from '../../src/pipeline/respond-error.js';
import type { RuntimeRoute } from '../../src/pipeline/snapshot.js';
import { decodeBase64Groups } from '../../src/proxy/base64-groups.js';
import {
  grpcWebAnswerBody,
  grpcWebCall,
  grpcWebRequestBody,
  toGrpcRequestHeaders,
  toGrpcWebAnswerHeaders,
  trailersFrame,
} from '../../src/proxy/grpc-web.js';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A gRPC length-prefixed message frame. */
function frame(payload: string): Buffer {
  const bytes = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

test('flavours: binary and text, codec suffix kept, parameters ignored, other types are not gRPC-Web', () => {
  assert.deepEqual(grpcWebCall({ 'content-type': 'application/grpc-web' }), {
    upstreamType: 'application/grpc',
    answerType: 'application/grpc-web',
    textRequest: false,
    textAnswer: false,
  });
  assert.deepEqual(grpcWebCall({ 'content-type': 'Application/gRPC-Web+proto; charset=x' }), {
    upstreamType: 'application/grpc+proto',
    answerType: 'application/grpc-web+proto',
    textRequest: false,
    textAnswer: false,
  });
  assert.deepEqual(grpcWebCall({ 'content-type': 'application/grpc-web-text+proto' }), {
    upstreamType: 'application/grpc+proto',
    answerType: 'application/grpc-web-text+proto',
    textRequest: true,
    textAnswer: true,
  });
  // PROTOCOL-WEB: Accept asks for a text-encoded answer to a binary request.
  assert.deepEqual(
    grpcWebCall({ 'content-type': 'application/grpc-web', accept: 'application/grpc-web-text' }),
    {
      upstreamType: 'application/grpc',
      answerType: 'application/grpc-web-text',
      textRequest: false,
      textAnswer: true,
    },
  );
  for (const type of [undefined, 'application/grpc', 'application/grpc-webx', 'text/plain'])
    assert.equal(grpcWebCall({ 'content-type': type }), undefined, String(type));
});

test('an error answer on a grpcWeb route takes the call read at routing; elsewhere the request is read', () => {
  const text = { headers: { 'content-type': 'application/grpc-web-text' } } as IncomingMessage;
  const routed = (grpcWeb: boolean): RuntimeRoute =>
    ({ plan: { grpcWeb }, config: { grpc: grpcWeb } }) as unknown as RuntimeRoute;
  const call = grpcWebCall(text.headers);
  // The call read once stands for the headers: they are not parsed a second time.
  const bare = { headers: {} } as IncomingMessage;
  assert.equal(grpcAnswerType(bare, routed(true), call), 'application/grpc-web-text');
  assert.equal(grpcAnswerType(bare, routed(true), undefined), 'application/grpc');
  assert.equal(grpcAnswerType(text, routed(false), undefined), 'application/grpc-web-text');
  assert.equal(grpcAnswerType(text, undefined, undefined), 'application/grpc-web-text');
  assert.equal(grpcAnswerType(bare, undefined, undefined), undefined);
});

test('upstream headers: gRPC content type, no x-grpc-web, no base64 content-length', () => {
  const call = grpcWebCall({ 'content-type': 'application/grpc-web-text' });
  assert.ok(call);
  const headers = [
    'Content-Type',
    'application/grpc-web-text',
    'X-Grpc-Web',
    '1',
    'Content-Length',
    '12',
    'x-user-agent',
    'grpc-web-javascript/0.1',
    'te',
    'trailers',
  ];
  toGrpcRequestHeaders(call, headers);
  assert.deepEqual(headers, [
    'Content-Type',
    'application/grpc',
    'x-user-agent',
    'grpc-web-javascript/0.1',
    'te',
    'trailers',
  ]);
  const binary = grpcWebCall({ 'content-type': 'application/grpc-web+proto' });
  assert.ok(binary);
  const kept = ['content-type', 'application/grpc-web+proto', 'content-length', '7'];
  toGrpcRequestHeaders(binary, kept);
  assert.deepEqual(kept, ['content-type', 'application/grpc+proto', 'content-length', '7']);
});

test('answer headers: a gRPC answer gets the call flavour and loses its length; others are left alone', () => {
  const call = grpcWebCall({ 'content-type': 'application/grpc-web-text' });
  assert.ok(call);
  const grpc = { 'content-type': 'application/grpc', 'content-length': '10', 'x-a': 'b' };
  toGrpcWebAnswerHeaders(call, grpc);
  assert.deepEqual(grpc, { 'content-type': 'application/grpc-web-text', 'x-a': 'b' });
  const html = { 'content-type': 'text/html', 'content-length': '10' };
  toGrpcWebAnswerHeaders(call, html);
  assert.deepEqual(html, { 'content-type': 'text/html', 'content-length': '10' });
});

test('the trailers frame: flag 0x80, big-endian length, lower-case "name: value" lines', () => {
  const bytes = trailersFrame({ 'grpc-status': '0', 'Grpc-Message': 'ok', 'x-many': ['a', 'b'] });
  const block = 'grpc-status: 0\r\ngrpc-message: ok\r\nx-many: a\r\nx-many: b\r\n';
  assert.equal(bytes[0], 0x80);
  assert.equal(bytes.readUInt32BE(1), block.length);
  assert.equal(bytes.subarray(5).toString(), block);
});

test('a -text request body decodes whatever its chunks split, padding mid-stream included', async () => {
  const call = grpcWebCall({ 'content-type': 'application/grpc-web-text' });
  assert.ok(call);
  const frames = [frame('a'), frame('hello'), frame('xyz!')];
  // Each frame encoded on its own: padding inside the body, as a client flushing per message sends it.
  const text = frames.map((f) => f.toString('base64')).join('');
  assert.match(text.slice(0, -4), /=/, 'the body carries padding before its end');
  for (let cut = 1; cut < text.length; cut++) {
    const chunks = [text.slice(0, cut), text.slice(cut, cut + 3), text.slice(cut + 3)]
      .filter((part) => part !== '')
      .map((part) => Buffer.from(part));
    const decoded = await collect(grpcWebRequestBody(call, Readable.from(chunks), 1000));
    assert.deepEqual(decoded, Buffer.concat(frames), `cut at ${cut}`);
  }
});

test('a -text answer is base64 per chunk, then the trailers frame; binary is relayed as it came', async () => {
  const headers = { 'content-type': 'application/grpc' };
  const call = grpcWebCall({ 'content-type': 'application/grpc-web-text' });
  assert.ok(call);
  toGrpcWebAnswerHeaders(call, headers);
  const trailers: Record<string, string> = {};
  const upstream = Readable.from([frame('one'), frame('two!')]);
  upstream.once('end', () => Object.assign(trailers, { 'grpc-status': '0' }));
  const text = (await collect(grpcWebAnswerBody(call, headers, upstream, trailers))).toString();
  assert.deepEqual(
    decodeBase64Groups(text),
    Buffer.concat([frame('one'), frame('two!'), trailersFrame({ 'grpc-status': '0' })]),
  );

  const binaryCall = grpcWebCall({ 'content-type': 'application/grpc-web' });
  assert.ok(binaryCall);
  const binaryHeaders = { 'content-type': 'application/grpc' };
  toGrpcWebAnswerHeaders(binaryCall, binaryHeaders);
  const binary = await collect(
    grpcWebAnswerBody(binaryCall, binaryHeaders, Readable.from([frame('m')]), {
      'grpc-status': '5',
      'grpc-message': 'gone',
    }),
  );
  assert.deepEqual(
    binary,
    Buffer.concat([frame('m'), trailersFrame({ 'grpc-status': '5', 'grpc-message': 'gone' })]),
  );
});

/** How a request body ends: the bytes sent upstream, or the code of the refusal. */
async function outcome(
  type: string,
  chunks: readonly Buffer[],
  limit = 1000,
): Promise<Buffer | string> {
  const call = grpcWebCall({ 'content-type': type });
  assert.ok(call);
  try {
    return await collect(grpcWebRequestBody(call, Readable.from(chunks), limit));
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err.code;
  }
}

/** `text` in three chunks cut at every pair of places. */
function splits(text: string): Buffer[][] {
  const out: Buffer[][] = [];
  for (let a = 0; a <= text.length; a++)
    for (let b = a; b <= text.length; b++)
      out.push(
        [text.slice(0, a), text.slice(a, b), text.slice(b)].map((part) => Buffer.from(part)),
      );
  return out;
}

test('a -text body that is not strict base64 is refused (bad_request) wherever its chunks split', async () => {
  const good = frame('hi').toString('base64');
  for (const text of [
    '!!!!@@@@',
    'AAAA!AAAAAA=',
    `${good} `,
    `${good}\r\n`,
    `\t${good}`,
    'AA=A',
    'A===',
    '=AAA',
    'AAA=A===',
    'AB==', // padding bits set: not the encoding of any byte string
    'AAB=',
    'AAAAA', // one character cannot hold a byte
    'AAAAAB', // an unpadded tail with padding bits set
    'AAAAAA=', // a tail padded half-way
    'AA-_', // the URL-safe alphabet
    `${good}\u00e9`,
  ])
    for (const chunks of splits(text))
      assert.equal(await outcome('application/grpc-web-text', chunks), 'bad_request', text);
});

test('strict base64 still passes: padding between messages and an unpadded tail', async () => {
  const [a, b] = [frame('ab'), frame('hello')];
  const text = a.toString('base64') + b.toString('base64').replace(/=+$/, '');
  assert.match(text, /=.*[^=]$/, 'padding inside, none at the end');
  for (const chunks of splits(text))
    assert.deepEqual(await outcome('application/grpc-web-text', chunks), Buffer.concat([a, b]));
});

test('request frames: data only (flag 0 or 1), each within the body limit, none cut short', async () => {
  const head = (flag: number, length: number): Buffer => {
    const bytes = Buffer.alloc(5);
    bytes[0] = flag;
    bytes.writeUInt32BE(length, 1);
    return bytes;
  };
  const compressed = Buffer.concat([head(1, 2), Buffer.from('zz')]);
  const cases: ReadonlyArray<readonly [string, Buffer, string | undefined]> = [
    ['plain and compressed messages', Buffer.concat([frame('hi'), compressed]), undefined],
    ['a trailers frame', Buffer.concat([frame('hi'), head(0x80, 0)]), 'bad_request'],
    ['an unknown flag', Buffer.concat([head(2, 1), Buffer.from('x')]), 'bad_request'],
    [
      'a message of 1 GiB',
      Buffer.concat([head(0, 1 << 30), Buffer.from('abc')]),
      'payload_too_large',
    ],
    ['a frame one byte over the limit', head(0, 996), 'payload_too_large'],
    ['a message cut short', Buffer.concat([head(0, 10), Buffer.from('abc')]), 'bad_request'],
    ['a head cut short', Buffer.concat([frame('hi'), head(0, 1).subarray(0, 3)]), 'bad_request'],
  ];
  for (const [name, bytes, refusal] of cases)
    for (const type of ['application/grpc-web', 'application/grpc-web-text']) {
      const body = type.endsWith('text') ? Buffer.from(bytes.toString('base64')) : bytes;
      for (let cut = 0; cut <= body.length; cut++) {
        const result = await outcome(type, [body.subarray(0, cut), body.subarray(cut)]);
        if (refusal === undefined)
          assert.deepEqual(result, bytes, `${name} (${type}) cut at ${cut}`);
        else assert.equal(result, refusal, `${name} (${type}) cut at ${cut}`);
      }
    }
});
