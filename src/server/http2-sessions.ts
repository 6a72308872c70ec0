/** HTTP/2 sessions of the public listener: their SETTINGS, the per-connection defences, and their graceful close. */
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { EventEmitter } from 'node:events';
import { countStreamBytes } from '../telemetry/wire-bytes.js';

/** `gateway.http2Limits` with the header budget of `gateway.maxHeaderBytes`. */
export interface Http2Limits {
  readonly maxConcurrentStreams: number;
  readonly maxResetsPerSecond: number;
  /** ms without a frame either way before the session is closed. */
  readonly idleTimeout: number;
  readonly maxHeaderBytes: number;
}

/**
 * Server options for `http2.createServer` / `createSecureServer`. The header list budget is advertised in
 * SETTINGS and enforced by Node per stream (a larger HEADERS+CONTINUATION sequence gets RST_STREAM, so a
 * CONTINUATION flood ends within `maxHeaderBytes`; CVE-2024-27316 class); push is off (RFC 9113 8.4).
 * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 3) lets clients open WebSockets with an extended CONNECT; it is
 * advertised on every session, since a reload may add a `websocket` route to a session already open.
 */
export function http2Options(limits: Http2Limits): {
  settings: {
    maxConcurrentStreams: number;
    maxHeaderListSize: number;
    enablePush: boolean;
    enableConnectProtocol: boolean;
  };
  maxHeaderListPairs: number;
} {
  return {
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
      enablePush: false,
      enableConnectProtocol: true,
    },
    // HPACK-indexed headers cost a byte each on the wire: bound their count too, not only their size.
    maxHeaderListPairs: 256,
  };
}

/** A session's open-stream count and reset counter, kept on each stream for the one listener all share. */
interface SessionWatch {
  open: number;
  readonly reset: () => void;
}

const WATCH = Symbol('edgeway.sessionWatch');

type WatchedStream = ServerHttp2Stream & { [WATCH]?: SessionWatch };

/**
 * A stream closed before edgeway sent its answer's headers was cancelled by the client: edgeway itself
 * always answers (an error response at worst) before it lets a stream go.
 */
function closedStream(this: WatchedStream): void {
  const watch = this[WATCH];
  if (watch === undefined) return;
  watch.open--;
  if (!this.headersSent) watch.reset();
}

/**
 * Tracks the HTTP/2 sessions of a server and arms each with the defences: more than `maxResetsPerSecond`
 * streams cancelled before their answer (client RST_STREAM, the rapid-reset attack CVE-2023-44487) gets that
 * session a GOAWAY ENHANCE_YOUR_CALM and closes it; other sessions are untouched. A session idle for
 * `idleTimeout` is closed with GOAWAY NO_ERROR (RFC 9113 6.8); one with a stream open is not idle, however
 * quiet: a WebSocket carried by an extended CONNECT may send nothing for longer (its route's own
 * `websocket.idleTimeout` bounds it).
 */
export class Http2Sessions {
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(private readonly limits: Http2Limits) {}

  /** Starts tracking the sessions `server` (an http2 server) creates. */
  attach(server: EventEmitter): void {
    server.on('session', (session: ServerHttp2Session) => this.#arm(session));
  }

  #arm(session: ServerHttp2Session): void {
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    // An 'error' on a session without a listener would reach uncaughtException; the socket is gone either way.
    session.on('error', () => undefined);
    // Node's session timer fires once and is refreshed by frames either way; a quiet stream re-arms it.
    const idle = (): void => {
      if (watch.open === 0) session.close();
      else session.setTimeout(this.limits.idleTimeout, idle);
    };
    session.setTimeout(this.limits.idleTimeout, idle);
    let windowStart = 0;
    let resets = 0;
    let refused = false;
    const reset = (): void => {
      const now = performance.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        resets = 0;
      }
      if (++resets > this.limits.maxResetsPerSecond && !refused && !session.destroyed) {
        refused = true;
        // destroy(err, code) would send GOAWAY NO_ERROR here: the code goes out first, then the socket closes.
        session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
        setImmediate(() => session.destroy());
      }
    };
    const watch: SessionWatch = { open: 0, reset };
    session.on('stream', (stream: ServerHttp2Stream) => {
      countStreamBytes(stream);
      if (stream.closed) return watch.reset();
      watch.open++;
      (stream as WatchedStream)[WATCH] = watch;
      // 'close' comes once: `on` spares the wrapper `once` allocates, and one shared listener a closure.
      stream.on('close', closedStream);
    });
  }

  /** Sends GOAWAY to every session: in-flight streams finish, no new ones start (RFC 9113 6.8). */
  closeAll(): void {
    for (const session of this.#sessions) session.close();
  }

  /** Cuts every session still open. */
  destroyAll(): void {
    for (const session of this.#sessions) session.destroy();
  }

  /** Open sessions. */
  get size(): number {
    return this.#sessions.size;
  }
}
