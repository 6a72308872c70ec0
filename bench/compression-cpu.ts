/**
 * CPU per response of gzip and br at several levels, one-shot and streaming (as edgeway serves), on a
 * 10 KB and a 100 KB JSON body: the measurement behind compression's defaults (README "Edge policies").
 * Run: node --import tsx bench/compression-cpu.ts
 */
import {
  constants,
  brotliCompressSync,
  createBrotliCompress,
  createGzip,
  gzipSync,
  type BrotliOptions,
  type ZlibOptions,
} from 'node:zlib';
import type { Transform } from 'node:stream';

function jsonBody(items: number): Buffer {
  const list = Array.from({ length: items }, (_, i) => ({
    id: i,
    sku: `SKU-${1000 + i * 7}`,
    name: `Widget number ${i}`,
    price: (i * 3.17).toFixed(2),
    tags: ['blue', 'large', i % 2 ? 'sale' : 'new'],
    inStock: i % 3 !== 0,
    updatedAt: new Date(1_700_000_000_000 + i * 3_600_000).toISOString(),
  }));
  return Buffer.from(JSON.stringify({ items: list, total: items }));
}

const brotli = (quality: number, size: number): BrotliOptions => ({
  params: {
    [constants.BROTLI_PARAM_QUALITY]: quality,
    [constants.BROTLI_PARAM_SIZE_HINT]: size,
    [constants.BROTLI_PARAM_LGWIN]: 18,
  },
});

const codecs: Array<{
  name: string;
  sync: (b: Buffer) => Buffer;
  stream: (b: Buffer) => Transform;
}> = [
  ...[1, 4, 6].map((level) => {
    const options: ZlibOptions = { level };
    return {
      name: `gzip ${level}`,
      sync: (b: Buffer) => gzipSync(b, options),
      stream: () => createGzip(options),
    };
  }),
  ...[1, 3, 4, 5].map((quality) => ({
    name: `br ${quality}`,
    sync: (b: Buffer) => brotliCompressSync(b, brotli(quality, b.length)),
    stream: (b: Buffer) => createBrotliCompress(brotli(quality, b.length)),
  })),
];

function streamOnce(codec: (typeof codecs)[number], body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const stream = codec.stream(body);
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('end', () => resolve(bytes));
    stream.end(body);
  });
}

async function cpuMicros(iterations: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < 500; i++) await fn();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}

for (const items of [66, 660]) {
  const body = jsonBody(items);
  const iterations = items > 100 ? 300 : 2000;
  console.log(`\n${body.length} bytes of JSON, ${iterations} iterations`);
  for (const codec of codecs) {
    const oneShot = await cpuMicros(iterations, () => codec.sync(body));
    const streamed = await cpuMicros(iterations, () => streamOnce(codec, body));
    console.log(
      `${codec.name.padEnd(8)} one-shot ${oneShot.toFixed(0).padStart(5)} µs  streaming ${streamed.toFixed(0).padStart(5)} µs  ${codec.sync(body).length} B`,
    );
  }
}
