/** The public listener's connections: pipelined requests answered in order, and a drain that ends each between requests. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { H2C_SOCKET } from './h2c.js';
import type { Http2Sessions } from './http2-sessions.js';

/**
 * How long a connection must sit idle, while draining, before it is closed, ms. A client that sends its next
 * request within this time gets an answer with `Connection: close` instead of a reset: closing a keep-alive
 * connection at the moment its client reuses it loses that request (RFC 9112 9.6 leaves the retry to the
 * client, and most clients do not retry).
 */
export const DRAIN_IDLE_MS = 200;

const CURRENT = Symbol('edgeway.currentResponse');

/** A connection and the response of its latest request (undefined until the first request arrives). */
type Tracked = Socket & { [CURRENT]?: ServerResponse; [H2C_SOCKET]?: true };

/** An HTTP/2 connection (ALPN h2, or h2c prior knowledge): its session, not this sweep, closes it. */
function carriesHttp2(socket: Tracked): boolean {
  return (socket as Partial<TLSSocket>).alpnProtocol === 'h2' || socket[H2C_SOCKET] === true;
}

function idle(socket: Tracked): boolean {
  const res = socket[CURRENT];
  return res === undefined || res.writableFinished;
}

/**
 * Tracks the connections of one HTTP/1.1 server. A request pipelined behind another waits for it, and is
 * dropped if that answer closed the connection. A shutdown closes each connection between two requests: once
 * draining, every response carries `Connection: close` (RFC 9112 9.6), and a connection is closed only after
 * it stayed idle for {@link DRAIN_IDLE_MS} with no new request.
 */
export class Connections {
  readonly #sockets = new Set<Tracked>();
  #draining = false;

  constructor(
    private readonly server: Server,
    private readonly sessions?: Http2Sessions,
  ) {
    // An HTTPS server hands requests the TLS socket, which 'secureConnection' carries ('connection' has the TCP one).
    server.on(
      server instanceof TlsServer ? 'secureConnection' : 'connection',
      (socket: Tracked) => {
        this.#sockets.add(socket);
        socket.once('close', () => this.#sockets.delete(socket));
      },
    );
  }

  /** Hands every request to `handle` in the order it arrived on its connection; while draining, as the last one. */
  request(
    req: IncomingMessage,
    res: ServerResponse,
    handle: (req: IncomingMessage, res: ServerResponse) => void,
  ): void {
    // HTTP/2 streams are concurrent by design (RFC 9113 5); a draining session already sent GOAWAY.
    if (req.httpVersionMajor === 2) {
      handle(req, res);
      return;
    }
    const socket = req.socket as Tracked;
    const previous = socket[CURRENT];
    socket[CURRENT] = res;
    if (this.#draining) res.setHeader('connection', 'close');
    if (previous === undefined || previous.writableFinished) {
      handle(req, res);
      return;
    }
    // RFC 9112 9.3.2: pipelined requests are answered in order. One queued behind an answer that closed the
    // connection (faulty framing, a refused body) was sent after bytes nobody can frame: it is never handled.
    previous.once('close', () => {
      if (!socket.destroyed && !socket.writableEnded) handle(req, res);
    });
  }

  /** Forgets a connection that an upgrade took away from HTTP: what drains it now is its relay's business. */
  release(socket: Socket): void {
    this.#sockets.delete(socket);
  }

  /**
   * Stops accepting connections and closes the open ones between requests; resolves when none is left or
   * `timeoutMs` passed (the caller then cuts what remains).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining = true;
    // net.Server's close: http.Server.close() would also cut every idle keep-alive connection at once.
    NetServer.prototype.close.call(this.server);
    this.sessions?.closeAll();
    for (const socket of this.#sockets) {
      const res = socket[CURRENT];
      if (res !== undefined && !res.headersSent) res.setHeader('connection', 'close');
    }
    const deadline = Date.now() + timeoutMs;
    // A connection idle at two sweeps in a row with the same latest response had no request in between.
    let idleAtLastSweep = new Map<Tracked, ServerResponse | undefined>();
    while ((this.#sockets.size > 0 || (this.sessions?.size ?? 0) > 0) && Date.now() < deadline) {
      const idleNow = new Map<Tracked, ServerResponse | undefined>();
      for (const socket of this.#sockets) {
        if (carriesHttp2(socket) || !idle(socket) || socket.writableEnded) continue;
        if (idleAtLastSweep.has(socket) && idleAtLastSweep.get(socket) === socket[CURRENT])
          socket.end();
        else idleNow.set(socket, socket[CURRENT]);
      }
      idleAtLastSweep = idleNow;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(DRAIN_IDLE_MS, Math.max(0, deadline - Date.now()))),
      );
    }
  }

  /** Cuts every connection still open (after the drain deadline). */
  closeAll(): void {
    this.sessions?.destroyAll();
    for (const socket of this.#sockets) socket.destroy();
  }
}
