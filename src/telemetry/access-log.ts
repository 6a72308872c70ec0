/** The JSON access log (one line per request, written asynchronously) and the application logger the CLI hands to the gateway. */
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Keys pino replaces with "[redacted]" wherever a caller logs them: bearer tokens, the admin secret,
 * client secrets and cookies must never reach a log file even when an object is logged whole.
 */
export const REDACT_PATHS: readonly string[] = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'cookie',
  '*.cookie',
  'headers.cookie',
  'req.headers.cookie',
  'token',
  '*.token',
  'adminToken',
  '*.adminToken',
  'secret',
  '*.secret',
  'clientSecret',
  '*.clientSecret',
  'password',
  '*.password',
  'access_token',
  '*.access_token',
  'client_secret',
  '*.client_secret',
  'apiKey',
  '*.apiKey',
  '["x-api-key"]',
  '*["x-api-key"]',
  'headers["x-api-key"]',
  'req.headers["x-api-key"]',
];

const redact = { paths: [...REDACT_PATHS], censor: '[redacted]' };

// `"level":"info"` rather than pino's 30: log shippers and people read the word. pino renders this once per
// level at construction, so a line costs nothing more.
const formatters = { level: (label: string) => ({ level: label }) };

/** A logger for warnings and lifecycle events (stderr, synchronous: rare and must survive a crash); the CLI creates one and injects it. */
export function createAppLogger(): Logger {
  return pino(
    {
      name: 'edgeway',
      base: undefined,
      redact,
      formatters,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** The longest a line waits in the buffer, ms: a flush every half second leaves no line older than ~1 s. */
const FLUSH_INTERVAL_MS = 500;

/** What the pipeline knows about a finished request. */
export interface AccessLogEntry {
  requestId: string;
  traceId: string;
  route: string;
  service: string | undefined;
  instance: string | undefined;
  method: string;
  /** The request path; a query string is cut off here because it may carry secrets. */
  path: string;
  status: number;
  /** Bytes read from the client for this request: request line, headers and body as sent (nginx's `$request_length`). */
  bytesIn: number;
  /** Bytes written to the client for this response: status line, headers and body (nginx's `$bytes_sent`). */
  bytesOut: number;
  durationMs: number;
  /** Time spent waiting on the upstream (all attempts), or undefined when none was called. */
  upstreamMs: number | undefined;
  clientIp: string;
  userAgent: string | undefined;
  /** The authenticated consumer (the token's `sub`), or undefined for an anonymous request. */
  sub: string | undefined;
  /** Upstream attempts made (retries included); 0 when the request never reached the proxy. */
  attempts: number;
  /** How the last failed upstream attempt failed (`connect-failure`, `reset`, `timeout`, ...), when one did. */
  reason: string | undefined;
  /** The message of the error edgeway answered with (e.g. `no healthy instance of service "orders"`). */
  error: string | undefined;
  /** A relayed WebSocket's line, written at its close: `client`, `upstream`, `idle_timeout`, `shutdown`, `token_expired`. */
  closedBy?: string;
}

/** Bytes of line buffer allocated at a time: lines are encoded into it one after another. */
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

// What JSON.stringify escapes in a string: quote, backslash, control characters and (ES2019) lone
// surrogates; a string without any is written as it is. Pairs take the slow path too, which is right.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string's JSON between its quotes. */
function escaped(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value).slice(1, -1) : value;
}

function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * The entry's fields as JSON.stringify writes them, after the line's opening brace and time: in the
 * interface's order, undefined ones left out, non-finite numbers as null. Written field by field with one
 * escape test per string and the names and quotes as constants, where JSON.stringify examines every
 * character of every name and value.
 */
function entryJson(e: AccessLogEntry): string {
  let json = `,"requestId":"${escaped(e.requestId)}","traceId":"${escaped(e.traceId)}","route":"${escaped(e.route)}"`;
  if (e.service !== undefined) json += `,"service":"${escaped(e.service)}"`;
  if (e.instance !== undefined) json += `,"instance":"${escaped(e.instance)}"`;
  json += `,"method":"${escaped(e.method)}","path":"${escaped(e.path)}","status":${jsonNumber(e.status)}`;
  json += `,"bytesIn":${jsonNumber(e.bytesIn)},"bytesOut":${jsonNumber(e.bytesOut)},"durationMs":${jsonNumber(e.durationMs)}`;
  if (e.upstreamMs !== undefined) json += `,"upstreamMs":${jsonNumber(e.upstreamMs)}`;
  json += `,"clientIp":"${escaped(e.clientIp)}"`;
  if (e.userAgent !== undefined) json += `,"userAgent":"${escaped(e.userAgent)}"`;
  if (e.sub !== undefined) json += `,"sub":"${escaped(e.sub)}"`;
  json += `,"attempts":${jsonNumber(e.attempts)}`;
  if (e.reason !== undefined) json += `,"reason":"${escaped(e.reason)}"`;
  if (e.error !== undefined) json += `,"error":"${escaped(e.error)}"`;
  if (e.closedBy !== undefined) json += `,"closedBy":"${escaped(e.closedBy)}"`;
  return `${json}}`;
}

/**
 * Encodes access lines, as pino's `info(entry)` writes them with the app logger's level word and ISO time:
 * level and time first, then the entry's fields; no redaction pass is needed, as an entry is built field by
 * field and never carries headers. The line is written in place into a shared chunk, so it costs no Buffer
 * of its own; a line is a view of the chunk, whose bytes are never written over.
 */
class LineEncoder {
  #chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
  #used = 0;
  #ms = -1;
  #second = -1;
  /** The current second's ISO time up to its milliseconds (`2026-12-01T03:10:59.`). */
  #secondIso = '';
  /** `{"level":"info","time":"<ISO time>"` of the current millisecond: lines in one ms share it. */
  #head: Buffer = Buffer.alloc(0);

  /** The line of `entry` at `now` (epoch ms), newline included. */
  encode(entry: AccessLogEntry, now: number): Buffer {
    if (now !== this.#ms) this.#setTime(now);
    const json = entryJson(entry);
    const head = this.#head;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const room = head.length + 3 * json.length + 1;
    if (this.#used + room > this.#chunk.length) {
      this.#chunk = Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, room));
      this.#used = 0;
    }
    const chunk = this.#chunk;
    const start = this.#used;
    chunk.set(head, start);
    const end = start + head.length + chunk.write(json, start + head.length);
    chunk[end] = NEWLINE;
    this.#used = end + 1;
    return chunk.subarray(start, this.#used);
  }

  /** toISOString formats the whole date (~6k instructions); it runs once a second, a millisecond is appended. */
  #setTime(now: number): void {
    this.#ms = now;
    const ms = now % 1000;
    if (now - ms !== this.#second) {
      this.#second = now - ms;
      this.#secondIso = new Date(this.#second).toISOString().slice(0, -4);
    }
    const digits = ms < 10 ? `00${ms}` : ms < 100 ? `0${ms}` : String(ms);
    this.#head = Buffer.from(`{"level":"info","time":"${this.#secondIso}${digits}Z"`, 'latin1');
  }
}

/**
 * Milliseconds to the microsecond: the clocks' float noise (`34.609112000000096`) is no information, and
 * printed whole it made the two durations ~30 of a line's ~330 bytes.
 */
function toMicroseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The access log of one gateway. */
export interface AccessLog {
  /** Queues one line; never blocks on the disk or a slow pipe. */
  write(entry: AccessLogEntry): void;
  /** Flushes buffered lines (called on shutdown; a timer also flushes every 500 ms). */
  flush(): Promise<void>;
}

/** Tells stderr that access-log lines are being dropped, with the running count, at most once a minute. */
function reportDrops(boom: NodeJS.EventEmitter): void {
  let dropped = 0;
  let reportedAt = -Infinity;
  boom.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - reportedAt < DROP_REPORT_INTERVAL_MS) return;
    reportedAt = now;
    process.stderr.write(
      `edgeway: access log reader is behind; ${dropped} line(s) dropped so far instead of buffered\n`,
    );
  });
}

/** Options for {@link createAccessLog}. */
export interface AccessLogOptions {
  /** Where lines go; defaults to stdout through an asynchronous buffered SonicBoom. */
  readonly destination?: DestinationStream;
  /** Bytes buffered before a write to the destination; 0 writes each line at once. */
  readonly minLength?: number;
  /** Bytes the stdout destination may hold while its reader falls behind; lines beyond are dropped. */
  readonly maxBufferedBytes?: number;
  /** Clock in epoch milliseconds for the lines' time (injected for tests). */
  readonly now?: () => number;
}

/**
 * A log reader that stalls (a full pipe, a stopped collector) must not grow the gateway's memory without
 * bound: past this much waiting output, lines are dropped and counted.
 */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** Dropped lines are reported on stderr at most this often. */
const DROP_REPORT_INTERVAL_MS = 60_000;

/**
 * Creates the access log. Lines are buffered (`minLength`, default 4 KiB) and written asynchronously
 * (`sync: false`) so logging never stalls the event loop on the request path; SonicBoom's periodic flush
 * writes what a quiet gateway buffered within a second, and the exit hook pino.destination installs writes
 * the rest synchronously when the process exits, even on a crash.
 */
export function createAccessLog(options: AccessLogOptions = {}): AccessLog {
  const boom =
    options.destination === undefined
      ? pino.destination({
          dest: 1,
          sync: false,
          minLength: options.minLength ?? 4096,
          maxLength: options.maxBufferedBytes ?? MAX_BUFFERED_BYTES,
          periodicFlush: FLUSH_INTERVAL_MS,
          contentMode: 'buffer',
        })
      : undefined;
  const destination = options.destination ?? (boom as DestinationStream);
  if (boom !== undefined) reportDrops(boom);
  // In its default mode SonicBoom appends each string to one growing string and measures it, flattening it,
  // on every write: a copy of half its buffer per line (3.8 KB allocated per request at 4 KiB). In buffer
  // mode it lists the buffers and joins them once per write(2); its typings still say string.
  const writeBuffer =
    boom === undefined
      ? undefined
      : (boom.write.bind(boom) as unknown as (chunk: Buffer) => boolean);
  const lines = new LineEncoder();
  const now = options.now ?? Date.now;
  return {
    write(entry) {
      const query = entry.path.indexOf('?');
      if (query !== -1) entry.path = entry.path.slice(0, query);
      entry.durationMs = toMicroseconds(entry.durationMs);
      if (entry.upstreamMs !== undefined) entry.upstreamMs = toMicroseconds(entry.upstreamMs);
      const line = lines.encode(entry, now());
      if (writeBuffer === undefined) destination.write(line.toString());
      else writeBuffer(line);
    },
    flush() {
      if (boom === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => {
        // SonicBoom calls back with an error when nothing is open yet; there is then nothing to flush.
        boom.flush(() => resolve());
      });
    },
  };
}
