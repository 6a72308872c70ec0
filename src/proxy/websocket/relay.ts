/** Relays an upgraded connection's bytes both ways between two duplex streams, untouched, until either side closes. */
import type { Duplex } from 'node:stream';

/** Who ended a relayed connection, as the access log names it. */
export type ClosedBy = 'client' | 'upstream' | 'idle_timeout' | 'shutdown' | 'token_expired';

/** How a relayed connection ended. */
export interface RelayEnd {
  readonly closedBy: ClosedBy;
  /** Bytes relayed client -> upstream and upstream -> client (after the handshake). */
  readonly bytesFromClient: number;
  readonly bytesFromUpstream: number;
}

/** Options of {@link StreamRelay}. */
export interface RelayOptions {
  /** Close both sides after this long without a byte in either direction, ms. */
  readonly idleTimeoutMs: number;
  /** Sees every chunk the upstream sends before it is relayed (a frame-boundary tracker). */
  readonly onUpstreamChunk?: (chunk: Buffer) => void;
}

/**
 * Pipes `client` into `upstream` and back with backpressure. It works on any pair of duplex streams (TCP or TLS
 * sockets, an HTTP/2 stream), so the transport that accepted the client does not matter here. The end of either
 * side (FIN, error, reset) ends the other: a half-closed WebSocket carries nothing useful (RFC 6455 7.1.1 closes
 * the TCP connection after the closing handshake), and a peer left half-open would hold its socket forever.
 */
export class StreamRelay {
  /** Resolves once, when the relay ended, with who ended it. */
  readonly done: Promise<RelayEnd>;
  #bytesFromClient = 0;
  #bytesFromUpstream = 0;
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #ended = false;
  #resolve: (end: RelayEnd) => void = () => undefined;

  constructor(private readonly client: Duplex, private readonly upstream: Duplex, private readonly options: RelayOptions) {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    client.on('data', (chunk: Buffer) => {
      this.#bytesFromClient += chunk.length;
      this.#lastActivity = Date.now();
    });
    const inspect = options.onUpstreamChunk;
    upstream.on('data', (chunk: Buffer) => {
      this.#bytesFromUpstream += chunk.length;
      this.#lastActivity = Date.now();
      inspect?.(chunk);
    });
    // Errors end the relay; the listeners stay for the streams' whole life so a late error (a write racing the
    // close) never reaches 'uncaughtException'.
    client.on('error', () => this.#finish('client', false));
    upstream.on('error', () => this.#finish('upstream', false));
    client.once('end', () => this.#finish('client', true));
    upstream.once('end', () => this.#finish('upstream', true));
    client.once('close', () => this.#finish('client', false));
    upstream.once('close', () => this.#finish('upstream', false));
    client.pipe(upstream, { end: false });
    upstream.pipe(client, { end: false });
    this.#armIdle(options.idleTimeoutMs);
    if (client.destroyed) this.#finish('client', false);
    else if (upstream.destroyed) this.#finish('upstream', false);
  }

  /** Bytes relayed so far, client -> upstream. */
  get bytesFromClient(): number {
    return this.#bytesFromClient;
  }

  /** Ends both sides gracefully (FIN once written data is flushed), for `reason`. */
  close(reason: ClosedBy): void {
    this.#finish(reason, true);
  }

  /** Stops relaying client -> upstream and upstream -> client; `last` is written to the client before its FIN. */
  closeWith(reason: ClosedBy, toClient: Buffer, toUpstream: Buffer): void {
    if (this.#ended) return;
    this.upstream.unpipe(this.client);
    this.client.unpipe(this.upstream);
    if (this.client.writable) this.client.write(toClient);
    if (this.upstream.writable) this.upstream.write(toUpstream);
    this.#finish(reason, true);
  }

  #armIdle(ms: number): void {
    this.#timer = setTimeout(() => {
      const idle = Date.now() - this.#lastActivity;
      if (idle >= this.options.idleTimeoutMs) this.#finish('idle_timeout', true);
      else this.#armIdle(this.options.idleTimeoutMs - idle);
    }, ms);
  }

  #finish(by: ClosedBy, graceful: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.client.unpipe(this.upstream);
    this.upstream.unpipe(this.client);
    for (const stream of [this.client, this.upstream]) {
      // A FIN after what was already written, then the read side too: nothing more is relayed either way.
      if (graceful && stream.writable) stream.end(() => stream.destroy());
      else stream.destroy();
    }
    this.#resolve({ closedBy: by, bytesFromClient: this.#bytesFromClient, bytesFromUpstream: this.#bytesFromUpstream });
  }
}
