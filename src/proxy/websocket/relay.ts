/** Relays an upgraded connection's bytes both ways between two duplex streams, untouched, until either side closes. */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { closeFrame, FrameBoundary } from './frame-boundary.js';

/** Who ended a relayed connection, as the access log names it. */
export type ClosedBy =
  'client' | 'upstream' | 'idle_timeout' | 'shutdown' | 'token_expired' | 'token_revoked';

/** RFC 6455 7.4.1: 1008, policy violation: the token the connection was opened with no longer holds. */
const POLICY_VIOLATION = 1008;

/** How a relayed connection ended. */
export interface RelayEnd {
  readonly closedBy: ClosedBy;
}

/** How long a side gets to take the last bytes and the FIN of a graceful close before it is reset, ms. */
const FIN_GRACE_MS = 2000;
/** How long a policy close waits for the upstream's frame in flight to end before both sides are reset, ms. */
const FRAME_END_WAIT_MS = 5000;

/** Options of {@link StreamRelay}. */
export interface RelayOptions {
  /** Close both sides after this long without a byte in either direction, ms. */
  readonly idleTimeoutMs: number;
  /** Follow frame boundaries both ways, so {@link StreamRelay.closeForPolicy} can end the connection cleanly. */
  readonly trackFrames: boolean;
  /** Bytes each side sent right behind its handshake, read off with it: relayed first (and followed as frames). */
  readonly clientHead?: Buffer;
  readonly upstreamHead?: Buffer;
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
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #ended = false;
  #resolve: (end: RelayEnd) => void = () => undefined;
  readonly #fromClient: FrameBoundary | undefined;
  readonly #fromUpstream: FrameBoundary | undefined;
  /** Set once a policy close waits for the upstream's current frame to end. */
  #policyClose: { reason: ClosedBy; frame: Buffer } | undefined;

  constructor(
    private readonly client: Duplex,
    private readonly upstream: Duplex,
    private readonly options: RelayOptions,
  ) {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    const fromClient = (this.#fromClient = options.trackFrames ? new FrameBoundary() : undefined);
    const fromUpstream = (this.#fromUpstream = options.trackFrames
      ? new FrameBoundary()
      : undefined);
    client.on('data', (chunk: Buffer) => {
      this.#lastActivity = Date.now();
      fromClient?.advance(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.#lastActivity = Date.now();
      if (fromUpstream === undefined) return;
      if (this.#policyClose === undefined) fromUpstream.advance(chunk);
      else this.#relayToBoundary(chunk, fromUpstream);
    });
    // Errors end the relay; the listeners stay for the streams' whole life so a late error (a write racing the
    // close) never reaches 'uncaughtException'.
    client.on('error', () => this.#finish('client', false));
    upstream.on('error', () => this.#finish('upstream', false));
    client.once('end', () => this.#finish('client', true));
    upstream.once('end', () => this.#finish('upstream', true));
    client.once('close', () => this.#finish('client', false));
    upstream.once('close', () => this.#finish('upstream', false));
    const { clientHead, upstreamHead } = options;
    if (upstreamHead !== undefined && upstreamHead.length > 0) {
      fromUpstream?.advance(upstreamHead);
      client.write(upstreamHead);
    }
    if (clientHead !== undefined && clientHead.length > 0) {
      fromClient?.advance(clientHead);
      upstream.write(clientHead);
    }
    client.pipe(upstream, { end: false });
    upstream.pipe(client, { end: false });
    this.#armIdle(options.idleTimeoutMs);
    if (client.destroyed) this.#finish('client', false);
    else if (upstream.destroyed) this.#finish('upstream', false);
  }

  /** Ends both sides gracefully (FIN once written data is flushed), for `reason`. */
  close(reason: ClosedBy): void {
    this.#finish(reason, true);
  }

  /**
   * Closes for a policy reason (the token expired or was revoked): the client gets a 1008 Close frame at the end of
   * the upstream's current frame, so it never sees a frame cut in half; the upstream gets one too when the client
   * was between frames; then FIN both ways. Without frame tracking it is a plain close.
   */
  closeForPolicy(reason: ClosedBy, text: string): void {
    const fromUpstream = this.#fromUpstream;
    if (this.#ended || this.#policyClose !== undefined) return;
    if (fromUpstream === undefined || this.#fromClient === undefined) return this.close(reason);
    this.client.unpipe(this.upstream);
    this.upstream.unpipe(this.client);
    // Nothing more of the client's reaches the upstream; a Close in the middle of a client frame would corrupt it.
    if (this.#fromClient.atBoundary && this.upstream.writable)
      this.upstream.write(closeFrame(POLICY_VIOLATION, text, true, randomBytes(4)));
    this.#policyClose = { reason, frame: closeFrame(POLICY_VIOLATION, text, false) };
    if (fromUpstream.atBoundary) return this.#sendPolicyClose();
    // The rest of the upstream's current frame is relayed by hand from the 'data' listener; an upstream that
    // does not finish it soon does not keep a revoked client connected: both sides are reset instead.
    this.upstream.resume();
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#finish(reason, false), FRAME_END_WAIT_MS);
  }

  #relayToBoundary(chunk: Buffer, frames: FrameBoundary): void {
    const end = frames.advance(chunk, true);
    if (this.client.writable)
      this.client.write(end === chunk.length ? chunk : chunk.subarray(0, end));
    if (frames.atBoundary) this.#sendPolicyClose();
  }

  #sendPolicyClose(): void {
    const pending = this.#policyClose;
    if (pending === undefined || this.#ended) return;
    if (this.client.writable) this.client.write(pending.frame);
    this.#finish(pending.reason, true);
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
      if (graceful && stream.writable) {
        // A FIN after what was already written, then the read side too: nothing more is relayed either way. A peer
        // that stopped reading would hold the socket (and a shutdown) forever: it is reset after a grace period.
        const reset = setTimeout(() => stream.destroy(), FIN_GRACE_MS);
        stream.end(() => {
          clearTimeout(reset);
          stream.destroy();
        });
      } else stream.destroy();
    }
    this.#resolve({ closedBy: by });
  }
}
