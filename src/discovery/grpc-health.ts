/** The gRPC health protocol (grpc.health.v1.Health/Check) as a health-check probe, with its two tiny protobuf messages hand-coded. */
import { connect, type ClientHttp2Session } from 'node:http2';
import type { ConnectionOptions } from 'node:tls';
import type { Prober } from './health-check.js';

const CHECK_PATH = '/grpc.health.v1.Health/Check';

/** HealthCheckResponse.ServingStatus: only SERVING passes (UNKNOWN, NOT_SERVING, SERVICE_UNKNOWN fail). */
const SERVING = 1;

/**
 * The most response bytes a probe reads: a HealthCheckResponse is a few bytes, and an instance that sends more
 * (a 100 MB body, an endless stream) fails at once instead of being buffered until the timeout.
 */
const MAX_RESPONSE_BYTES = 4096;

/** Appends `value` as a protobuf varint. */
function varint(value: number, out: number[]): void {
  let rest = value;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
}

/** A gRPC length-prefixed message (uncompressed) carrying HealthCheckRequest { string service = 1; }. */
export function healthCheckRequestFrame(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const head: number[] = [];
  // proto3 leaves a default (empty) string out of the message.
  if (name.length > 0) {
    head.push(0x0a);
    varint(name.length, head);
  }
  const message = Buffer.concat([Buffer.from(head), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** Reads a varint at `at`; undefined when the bytes end inside it. */
function readVarint(bytes: Buffer, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = at, shift = 0; i < bytes.length && shift < 35; i++, shift += 7) {
    const byte = bytes[i] as number;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: i + 1 };
  }
  return undefined;
}

/**
 * The `status` of a HealthCheckResponse { ServingStatus status = 1; } in one uncompressed gRPC frame, or
 * undefined for anything else (a compressed or truncated frame, a malformed message). Unknown fields are
 * skipped as protobuf requires; a message without the field says UNKNOWN (0).
 */
export function servingStatus(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return undefined;
  const message = body.subarray(5);
  let status = 0;
  let at = 0;
  while (at < message.length) {
    const tag = readVarint(message, at);
    if (tag === undefined) return undefined;
    at = tag.next;
    const wireType = tag.value & 7;
    if (wireType === 0) {
      const field = readVarint(message, at);
      if (field === undefined) return undefined;
      if (tag.value >>> 3 === 1) status = field.value;
      at = field.next;
    } else if (wireType === 2) {
      const size = readVarint(message, at);
      if (size === undefined) return undefined;
      at = size.next + size.value;
    } else if (wireType === 1) at += 8;
    else if (wireType === 5) at += 4;
    else return undefined;
  }
  return at === message.length ? status : undefined;
}

/**
 * Calls Check for `service` ('' asks about the server as a whole) on a session of its own per probe, so a
 * probe also tests that connections are accepted. Passes on HTTP 200, a gRPC content-type, `grpc-status` 0 and
 * SERVING.
 */
export function grpcHealthProbe(service: string, tls: ConnectionOptions | undefined): Prober {
  const request = healthCheckRequestFrame(service);
  return (origin, done) => {
    const session: ClientHttp2Session = connect(
      origin,
      origin.startsWith('https:') && tls !== undefined ? tls : {},
    );
    session.on('error', () => done(false));
    const stream = session.request({
      ':method': 'POST',
      ':path': CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'edgeway-health-check',
    });
    let httpStatus = 0;
    let grpcStatus: unknown;
    const chunks: Buffer[] = [];
    let received = 0;
    stream.on('response', (headers) => {
      // gRPC over HTTP/2: a response of another content-type is not a gRPC answer, whatever its body says.
      const type = headers['content-type'] ?? '';
      if (!/^application\/grpc(?:$|[+;])/.test(type)) return done(false);
      httpStatus = Number(headers[':status']);
      // A trailers-only answer carries its status in the headers.
      grpcStatus = headers['grpc-status'];
    });
    stream.on('trailers', (trailers) => {
      grpcStatus = trailers['grpc-status'];
    });
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > MAX_RESPONSE_BYTES) done(false);
      else chunks.push(chunk);
    });
    stream.on('end', () =>
      done(
        httpStatus === 200 &&
          grpcStatus === '0' &&
          servingStatus(Buffer.concat(chunks)) === SERVING,
      ),
    );
    stream.on('error', () => done(false));
    // A stream closed without its end (reset, GOAWAY) fails now rather than at the timeout.
    stream.on('close', () => done(false));
    stream.end(request);
    return () => session.destroy();
  };
}
