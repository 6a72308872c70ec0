/** Caps a streamed request body at `maxBodyBytes`, for chunked bodies whose size is not declared. */
import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors.js';

/** Raised through the stream when the body grows past the limit. */
export function payloadTooLarge(limit: number): GatewayError {
  return new GatewayError('payload_too_large', `request body exceeds ${limit} bytes`);
}

/** A pass-through stream that fails with 413 `payload_too_large` once more than `limit` bytes went through. */
export class BodyLimit extends Transform {
  private seen = 0;
  exceeded = false;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      this.exceeded = true;
      done(payloadTooLarge(this.limit));
      return;
    }
    done(null, chunk);
  }
}
