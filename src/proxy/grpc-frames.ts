/** Follows gRPC's length-prefixed message framing across chunks split anywhere, without copying a byte. */

/** The 5-byte head of every gRPC message: a flag byte (0 plain, 1 compressed) and a 4-byte big-endian length. */
const HEAD_BYTES = 5;

/** Why a stream's frames may not go upstream as a gRPC request. */
export type FrameFault =
  /** A flag other than 0 (plain) or 1 (compressed): gRPC-Web's 0x80 trailers frame, say. */
  | 'not-data'
  /** A frame that cannot fit in the request body limit. */
  | 'too-long';

/**
 * Where a byte stream stands in gRPC's framing (gRPC over HTTP/2, "Length-Prefixed-Message"): it reads only the
 * heads and skips the messages, so it can tell whether the stream may end where it stands.
 */
export class GrpcFrames {
  /** Head bytes read of the frame being read (0 to 4), 0 between frames. */
  #headRead = 0;
  #length = 0;
  /** Message bytes still to come of the current frame. */
  #left = 0;
  /** With a request's body limit, heads are checked as a gRPC request's; an answer's are only followed. */
  readonly #maxBodyBytes: number | undefined;

  constructor(maxBodyBytes?: number) {
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Reads `chunk` as the stream's next bytes; a request's first fault stops the reading and is returned. */
  advance(chunk: Buffer): FrameFault | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (this.#left > 0) {
        const skip = Math.min(this.#left, chunk.length - at);
        this.#left -= skip;
        at += skip;
        continue;
      }
      const byte = chunk[at++] as number;
      if (this.#headRead === 0) {
        if (byte > 1 && this.#maxBodyBytes !== undefined) return 'not-data';
        // The flag byte says nothing about where the frame ends; the next four are its length.
        this.#length = 0;
      } else this.#length = this.#length * 256 + byte;
      if (++this.#headRead === HEAD_BYTES) {
        if (this.#maxBodyBytes !== undefined && HEAD_BYTES + this.#length > this.#maxBodyBytes)
          return 'too-long';
        this.#headRead = 0;
        this.#left = this.#length;
      }
    }
    return undefined;
  }

  /** True between frames: the stream may end here without cutting a message short. */
  get atBoundary(): boolean {
    return this.#headRead === 0 && this.#left === 0;
  }
}
