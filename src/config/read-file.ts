/** Reads one config file with the bounds that keep a hostile or mistaken file from exhausting the process. */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** The largest config file read, in bytes (1 MiB); a bigger config is split into a folder of files. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** The file's text, or why it cannot be config. */
export type ReadResult = { ok: true; text: string } | { ok: false; message: string };

const REASONS: Record<string, string> = {
  ELOOP: 'a symbolic link loop',
  ENOENT: 'no such file (a dangling symbolic link?)',
  EACCES: 'permission denied',
  EISDIR: 'a folder, not a file',
};

/**
 * Symbolic links are followed (Kubernetes ConfigMap volumes are links), but the target must be a regular
 * file: a device such as /dev/zero never ends, and a FIFO blocks (hence O_NONBLOCK on open).
 */
export function readConfigFile(path: string, maxBytes = MAX_CONFIG_FILE_BYTES): ReadResult {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    return { ok: false, message: `cannot read config: ${REASONS[code] ?? (err as Error).message}` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { ok: false, message: 'cannot read config: not a regular file' };
    if (stat.size > maxBytes) return { ok: false, message: tooLarge(maxBytes) };
    // The file may grow between fstat and read: read up to one byte past the limit to notice.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > maxBytes) return { ok: false, message: tooLarge(maxBytes) };
    return { ok: true, text: buffer.toString('utf8', 0, length) };
  } catch (err) {
    return { ok: false, message: `cannot read config: ${(err as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

function tooLarge(maxBytes: number): string {
  return `larger than ${maxBytes} bytes; split the config into a folder of smaller files`;
}
