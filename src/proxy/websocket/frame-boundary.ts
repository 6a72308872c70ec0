/** Follows the frame boundaries of one direction of a WebSocket byte stream (RFC 6455 5.2) without touching a byte. */

/** Longest frame header: 2 bytes, a 64-bit extended length, a 4-byte masking key. */
const MAX_HEADER = 14;

/**
 * Where the stream stands between frames. Only headers are read (payload bytes are skipped by count), so the
 * cost is a few operations per frame whatever its size, and compressed frames (RSV1) are followed the same way.
 */
export class FrameBoundary {
  /** Payload bytes of the current frame still to come. */
  #payloadLeft = 0;
  readonly #header = Buffer.alloc(MAX_HEADER);
  #headerHave = 0;

  /** True between two frames: a control frame written now lands where RFC 6455 5.4 allows it. */
  get atBoundary(): boolean {
    return this.#payloadLeft === 0 && this.#headerHave === 0;
  }

  /**
   * Reads `chunk` from the start; with `stopAtBoundary`, stops at the first frame end and returns how many bytes
   * that took (the chunk's length when no frame ended in it). Without, reads all of it and returns its length.
   */
  advance(chunk: Buffer, stopAtBoundary = false): number {
    let at = 0;
    while (at < chunk.length) {
      if (this.#payloadLeft > 0) {
        const take = Math.min(this.#payloadLeft, chunk.length - at);
        this.#payloadLeft -= take;
        at += take;
      } else {
        this.#header[this.#headerHave++] = chunk[at++] as number;
        const needed = this.#headerLength();
        if (needed === undefined || this.#headerHave < needed) continue;
        this.#payloadLeft = this.#payloadLength();
        this.#headerHave = 0;
      }
      if (stopAtBoundary && this.atBoundary) return at;
    }
    return at;
  }

  /** The current header's full length once its second byte is known. */
  #headerLength(): number | undefined {
    if (this.#headerHave < 2) return undefined;
    const second = this.#header[1] as number;
    const length7 = second & 0x7f;
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    return 2 + extended + (second & 0x80 ? 4 : 0);
  }

  #payloadLength(): number {
    const length7 = (this.#header[1] as number) & 0x7f;
    if (length7 === 126) return this.#header.readUInt16BE(2);
    if (length7 === 127) return Number(this.#header.readBigUInt64BE(2));
    return length7;
  }
}

/**
 * A Close frame (RFC 6455 5.5.1) with `code` and a short UTF-8 `reason` (at most 123 bytes). A frame to a server
 * is masked (5.3), one to a client is not.
 */
export function closeFrame(
  code: number,
  reason: string,
  masked: boolean,
  maskKey: Buffer = Buffer.alloc(4),
): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  if (!masked) return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
  for (let i = 0; i < payload.length; i++)
    payload[i] = (payload[i] as number) ^ (maskKey[i % 4] as number);
  return Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), maskKey, payload]);
}
