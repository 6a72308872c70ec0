/** Follows gRPC's length-prefixed message framing across chunks split anywhere, without copying a byte. */

/** The 5-byte head of every gRPC message: a flag byte (0 plain, 1 compressed) and a 4-byte big-endian length. */
const HEAD_BYTES = 5;

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

  /** Reads `chunk` as the stream's next bytes. */
  advance(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#left > 0) {
        const skip = Math.min(this.#left, chunk.length - at);
        this.#left -= skip;
        at += skip;
        continue;
      }
      const byte = chunk[at++] as number;
      // The flag byte says nothing about where the frame ends; the next four are its length.
      this.#length = this.#headRead === 0 ? 0 : this.#length * 256 + byte;
      if (++this.#headRead === HEAD_BYTES) {
        this.#headRead = 0;
        this.#left = this.#length;
      }
    }
  }

  /** True between frames: the stream may end here without cutting a message short. */
  get atBoundary(): boolean {
    return this.#headRead === 0 && this.#left === 0;
  }
}
