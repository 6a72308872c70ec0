/**
 * gRPC-Web (grpc/grpc doc/PROTOCOL-WEB.md) at the edge: a browser's call goes upstream as gRPC over HTTP/2,
 * and the answer comes back with its trailers as the body's last frame, which fetch() and XHR can read.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { finished, pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';
import { Base64Stream } from './base64-groups.js';
import { payloadTooLarge } from './body-limit.js';
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

const EMPTY = Buffer.alloc(0);

/** A body edgeway refuses to forward as gRPC: INTERNAL (13), as gRPC libraries answer a message they cannot parse. */
function malformed(what: string): GatewayError {
  return new GatewayError('bad_request', `the gRPC-Web request body ${what}`);
}

/**
 * A gRPC-Web request body on its way upstream, checked as it streams: a -text body strict base64 (decoded
 * group by group, never held back for a whole message), and the frames a gRPC request's: messages only (no
 * trailers frame), each within the body limit, the last one whole. A chunk that breaks a rule fails the body
 * and none of it goes on.
 */
class RequestFrames extends Transform {
  /** Why the body was refused, once it was. */
  refusal: GatewayError | undefined;
  readonly #text: Base64Stream | undefined;
  readonly #frames: GrpcFrames;
  readonly #maxBodyBytes: number;

  constructor(text: boolean, maxBodyBytes: number) {
    super();
    this.#text = text ? new Base64Stream() : undefined;
    this.#frames = new GrpcFrames(maxBodyBytes);
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** `bytes` if they may go upstream (undefined: the text was not base64), else the refusal they earn. */
  #checked(bytes: Buffer | undefined): Buffer | GatewayError {
    if (bytes === undefined) return malformed('is not base64 (standard alphabet, no whitespace)');
    const fault = this.#frames.advance(bytes);
    if (fault === 'not-data') return malformed('holds a frame that is not a message (flag 0 or 1)');
    if (fault === 'too-long') return payloadTooLarge(this.#maxBodyBytes);
    return bytes;
  }

  #refuse(refusal: GatewayError, done: TransformCallback): void {
    this.refusal = refusal;
    done(refusal);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const out = this.#checked(this.#text === undefined ? chunk : this.#text.next(chunk));
    if (out instanceof GatewayError) return this.#refuse(out, done);
    done(null, out);
  }

  override _flush(done: TransformCallback): void {
    const out = this.#checked(this.#text === undefined ? EMPTY : this.#text.end());
    if (out instanceof GatewayError) return this.#refuse(out, done);
    if (!this.#frames.atBoundary) return this.#refuse(malformed('ends inside a message'), done);
    done(null, out);
  }
}

/**
 * The request body to send upstream, checked (and for -text decoded) as it streams; `grpcWebRefusal` tells
 * why it failed. A client that aborts its body fails the checked stream too, so the upstream attempt ends.
 */
export function grpcWebRequestBody(
  call: GrpcWebCall,
  body: Readable,
  maxBodyBytes: number,
): Readable {
  const checked = new RequestFrames(call.textRequest, maxBodyBytes);
  // Not pipeline(): it would destroy the client's request on a refusal, and with it the connection the
  // refusal is to be answered on.
  body.pipe(checked);
  // A refusal may come before undici starts reading; it reads `refusal`, and its iterator the stored error.
  checked.on('error', ignore);
  finished(body, (err) => {
    if (err !== undefined && err !== null) checked.destroy(err);
  });
  return checked;
}

/** Why edgeway refused a request body from `grpcWebRequestBody`, if it did. */
export function grpcWebRefusal(body: Readable | undefined): GatewayError | undefined {
  return body instanceof RequestFrames ? body.refusal : undefined;
}
