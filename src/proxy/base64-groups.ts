/**
 * Strict base64 (RFC 4648 section 4: the standard alphabet, `=` padding, no whitespace) read in 4-character
 * groups, where a padded group may end any piece of the text: a gRPC-Web client pads each chunk it flushes.
 */

const EMPTY = Buffer.alloc(0);
const ALPHABET = /^[A-Za-z0-9+/=]*$/;

/**
 * One piece, decoded only if it is the one spelling its bytes have: re-encoding them gives it back. Node's
 * decoder skips characters it cannot read and stops at the first `=`, so anything else (a stray character,
 * whitespace, the URL-safe alphabet, padding inside a group, padding bits set) would decode to other bytes.
 */
function canonical(piece: string): Buffer | undefined {
  const bytes = Buffer.from(piece, 'base64');
  return bytes.toString('base64') === piece ? bytes : undefined;
}

/** Decodes whole 4-character groups, padding allowed at the end of any group; undefined when not base64. */
export function decodeBase64Groups(text: string): Buffer | undefined {
  const parts: Buffer[] = [];
  let from = 0;
  while (from < text.length) {
    const pad = text.indexOf('=', from);
    const to = pad === -1 ? text.length : Math.min(text.length, (Math.floor(pad / 4) + 1) * 4);
    const part = canonical(text.slice(from, to));
    if (part === undefined) return undefined;
    parts.push(part);
    from = to;
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** Base64 text arriving in chunks that may split a 4-character group anywhere, decoded as it comes. */
export class Base64Stream {
  #pending = '';

  /** The bytes of the groups `chunk` completes, or undefined when the text is not base64. */
  next(chunk: Buffer): Buffer | undefined {
    const text = this.#pending + chunk.toString('latin1');
    const whole = text.length - (text.length % 4);
    this.#pending = text.slice(whole);
    // A character no group may hold refuses the chunk now, not once its group is complete.
    if (!ALPHABET.test(this.#pending)) return undefined;
    return whole === 0 ? EMPTY : decodeBase64Groups(text.slice(0, whole));
  }

  /**
   * The bytes of the text's unpadded last group (some encoders leave padding out), or undefined when the text
   * ended inside a group that no unpadded encoding ends with.
   */
  end(): Buffer | undefined {
    const tail = this.#pending;
    if (tail === '') return EMPTY;
    if (tail.includes('=')) return undefined;
    return canonical(tail + '='.repeat(4 - tail.length));
  }
}
