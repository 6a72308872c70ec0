/**
 * gRPC-Web (grpc/grpc doc/PROTOCOL-WEB.md) at the edge: a browser's call goes upstream as gRPC over HTTP/2,
 * and the answer comes back with its trailers as the body's last frame, which fetch() and XHR can read.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { GrpcFrames } from './grpc-frames.js';
import { UPSTREAM_FRAMING } from './upstream-errors.js';

const WEB = 'application/grpc-web';
const TEXT = '-text';

type Trailers = Readonly<Record<string, string | string[] | undefined>>;

/** The flavour of one gRPC-Web call, read from its request headers. */
export interface GrpcWebCall {
  /** The content type sent upstream: `application/grpc` with the request's `+proto`-style suffix. */
  readonly upstreamType: string;
  /** The content type the answer carries: the request's flavour, `-text` when the answer is base64. */
  readonly answerType: string;
  /** The request body is base64 (`application/grpc-web-text`). */
  readonly textRequest: boolean;
  /** The answer body is base64: a -text request, or one whose Accept asks for `application/grpc-web-text`. */
  readonly textAnswer: boolean;
}

/** The request's gRPC-Web flavour, or undefined when its content type is not `application/grpc-web…`. */
export function grpcWebCall(headers: IncomingHttpHeaders): GrpcWebCall | undefined {
  const raw = headers['content-type'];
  if (raw === undefined || raw.length < WEB.length) return undefined;
  const semicolon = raw.indexOf(';');
  const type = (semicolon === -1 ? raw : raw.slice(0, semicolon)).trim().toLowerCase();
  if (!type.startsWith(WEB)) return undefined;
  let rest = type.slice(WEB.length);
  const textRequest = rest.startsWith(TEXT);
  if (textRequest) rest = rest.slice(TEXT.length);
  // `rest` is now the codec suffix (`+proto`, `+json`) or nothing; anything else is another media type.
  if (rest !== '' && !rest.startsWith('+')) return undefined;
  const accept = headers.accept;
  const textAnswer = textRequest || (accept !== undefined && accept.includes(WEB + TEXT));
  return {
    upstreamType: `application/grpc${rest}`,
    answerType: textAnswer ? WEB + TEXT + rest : WEB + rest,
    textRequest,
    textAnswer,
  };
}

/**
 * Turns the request's upstream header list ([name, value, ...], names in the client's case) into a gRPC
 * request's, in place: the gRPC content type, no `x-grpc-web` (a browser-side marker the upstream does not
 * speak), and no content-length for a -text body, which counted base64 characters, not the bytes sent.
 */
export function toGrpcRequestHeaders(call: GrpcWebCall, headers: string[]): void {
  let out = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    const lower = name.toLowerCase();
    if (lower === 'x-grpc-web' || (call.textRequest && lower === 'content-length')) continue;
    headers[out] = name;
    headers[out + 1] = lower === 'content-type' ? call.upstreamType : (headers[i + 1] as string);
    out += 2;
  }
  headers.length = out;
}

/**
 * Rewrites an upstream gRPC answer's headers for the browser, in place: the call's content type, and no
 * content-length (the body gains a trailers frame, and base64 grows it). An answer that is not gRPC (say a
 * proxy's HTML error page) is left as it is, and so is its body.
 */
export function toGrpcWebAnswerHeaders(call: GrpcWebCall, headers: IncomingHttpHeaders): void {
  const type = headers['content-type'];
  if (type === undefined || !type.startsWith('application/grpc')) return;
  headers['content-type'] = call.answerType;
  delete headers['content-length'];
}

/** The trailers as gRPC-Web's last frame: flag 0x80, a 4-byte length, then `name: value\r\n` lines. */
export function trailersFrame(trailers: Trailers): Buffer {
  let block = '';
  for (const [name, value] of Object.entries(trailers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value])
      block += `${name.toLowerCase()}: ${one}\r\n`;
  }
  const payload = Buffer.from(block, 'latin1');
  const frame = Buffer.allocUnsafe(5 + payload.length);
  frame[0] = 0x80;
  frame.writeUInt32BE(payload.length, 1);
  payload.copy(frame, 5);
  return frame;
}

/** The upstream's body ended inside a message: a trailers frame after it would be read as the message's rest. */
function truncatedAnswer(): Error {
  return Object.assign(new Error('the upstream gRPC answer ended inside a message'), {
    code: UPSTREAM_FRAMING,
  });
}

/**
 * The answer body: message frames as they come (for -text, base64 per chunk with its own padding, as Envoy
 * does, so a streamed message is never held back waiting for the next), then the trailers frame. An upstream
 * body that ends inside a message fails instead: the client sees a cut answer, not trailers inside a message.
 */
class AnswerFrames extends Transform {
  readonly #text: boolean;
  readonly #trailers: Trailers;
  readonly #frames = new GrpcFrames();

  constructor(text: boolean, trailers: Trailers) {
    super();
    this.#text = text;
    this.#trailers = trailers;
  }

  #encode(bytes: Buffer): Buffer {
    return this.#text ? Buffer.from(bytes.toString('base64'), 'latin1') : bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#frames.advance(chunk);
    done(null, this.#encode(chunk));
  }

  override _flush(done: TransformCallback): void {
    if (!this.#frames.atBoundary) return done(truncatedAnswer());
    // undici filled the trailers before the upstream body ended, which is what runs this flush.
    if (Object.keys(this.#trailers).length === 0) return done();
    done(null, this.#encode(trailersFrame(this.#trailers)));
  }
}

function ignore(): void {}

/**
 * The body to relay for an upstream answer already passed to `toGrpcWebAnswerHeaders`: framed for gRPC-Web
 * when it is gRPC, else unchanged. An upstream failure reaches the returned stream as its error, and
 * destroying the returned stream (the client left) destroys the upstream body.
 */
export function grpcWebAnswerBody(
  call: GrpcWebCall,
  headers: IncomingHttpHeaders,
  body: Readable,
  trailers: Trailers,
): Readable {
  if (headers['content-type'] !== call.answerType) return body;
  return pipeline(body, new AnswerFrames(call.textAnswer, trailers), ignore);
}

/**
 * Decodes base64 that may carry padding mid-stream (a client may pad each chunk it flushes): a 4-character
 * group ending in `=` ends a piece decoded on its own, since Node's decoder stops at the first `=`.
 */
export function decodeBase64Groups(text: string): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  while (from < text.length) {
    const pad = text.indexOf('=', from);
    const to = pad === -1 ? text.length : Math.min(text.length, (Math.floor(pad / 4) + 1) * 4);
    parts.push(Buffer.from(text.slice(from, to), 'base64'));
    from = to;
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** A -text request body, decoded as it streams; its chunks may split a 4-character group anywhere. */
class TextBody extends Transform {
  #pending = '';

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const text = this.#pending + chunk.toString('latin1').replace(/\s+/g, '');
    const whole = text.length - (text.length % 4);
    this.#pending = text.slice(whole);
    if (whole > 0) this.push(decodeBase64Groups(text.slice(0, whole)));
    done();
  }

  override _flush(done: TransformCallback): void {
    // An unpadded tail (some encoders leave padding out) still holds whole bytes.
    if (this.#pending !== '') this.push(Buffer.from(this.#pending, 'base64'));
    done();
  }
}

/**
 * The request body to send upstream: a -text body decoded from base64, a binary one as it is. A client that
 * aborts its body fails the decoded stream too, so the upstream attempt ends.
 */
export function grpcWebRequestBody(call: GrpcWebCall, body: Readable): Readable {
  if (!call.textRequest) return body;
  return pipeline(body, new TextBody(), ignore);
}
