/** The open WebSocket connections of one gateway process: per-route counts, the limit, and the drain on shutdown. */
import type { ClosedBy } from './relay.js';

/** An open relayed connection as the tracker sees it. */
export interface OpenSocket {
  readonly route: string;
  /** The `jti` of the token the connection was opened with, if it had one. */
  readonly jti: string | undefined;
  close(reason: ClosedBy): void;
}

/** Told when a route's count of open connections changes (the `edgeway_websocket_connections` gauge). */
export type OpenCountListener = (route: string, delta: 1 | -1) => void;

/**
 * Counts open connections by route name, so a reload (which keeps the name) keeps counting them: a reload never
 * cuts a socket, and the sockets it keeps still count against `maxConnections`. Lives as long as the gateway.
 */
export class WebSocketTracker {
  readonly #byRoute = new Map<string, number>();
  readonly #open = new Set<OpenSocket>();
  readonly #byJti = new Map<string, Set<OpenSocket>>();
  #closing = false;
  #drained: (() => void) | undefined;

  constructor(private readonly onChange: OpenCountListener = () => undefined) {}

  /** False once shutdown began, or when `route` already holds `max` connections: the upgrade is refused (503). */
  admits(route: string, max: number): boolean {
    return !this.#closing && (this.#byRoute.get(route) ?? 0) < max;
  }

  /** Holds a slot on `route` for a handshake in progress; returns its release. */
  reserve(route: string): () => void {
    this.#byRoute.set(route, (this.#byRoute.get(route) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#byRoute.set(route, (this.#byRoute.get(route) ?? 1) - 1);
    };
  }

  /** Registers an open connection (after the 101); false when shutdown began, and the caller closes it. */
  opened(socket: OpenSocket): boolean {
    if (this.#closing) return false;
    this.#open.add(socket);
    if (socket.jti !== undefined) {
      const sockets = this.#byJti.get(socket.jti) ?? new Set<OpenSocket>();
      sockets.add(socket);
      this.#byJti.set(socket.jti, sockets);
    }
    this.onChange(socket.route, 1);
    return true;
  }

  /** Closes every connection opened with the token `jti` (it was just revoked). */
  revoked(jti: string): void {
    const sockets = this.#byJti.get(jti);
    if (sockets !== undefined) for (const socket of [...sockets]) socket.close('token_revoked');
  }

  /** Unregisters a connection that ended. */
  closed(socket: OpenSocket): void {
    if (!this.#open.delete(socket)) return;
    if (socket.jti !== undefined) {
      const sockets = this.#byJti.get(socket.jti);
      sockets?.delete(socket);
      if (sockets?.size === 0) this.#byJti.delete(socket.jti);
    }
    this.onChange(socket.route, -1);
    if (this.#open.size === 0) this.#drained?.();
  }

  /** Open connections right now. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Refuses new upgrades, waits up to `timeoutMs` for the open connections to close by themselves, then closes
   * what is left (FIN to both sides).
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#closing = true;
    if (this.#open.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    for (const socket of [...this.#open]) socket.close('shutdown');
  }
}
