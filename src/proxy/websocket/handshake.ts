/** The upstream half of a WebSocket opening handshake (RFC 6455 4.1), over a fresh connection to one instance. */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';

/** What the instance answered: a `101` with the upgraded socket, or any other response to relay as such. */
export type HandshakeResult =
  | {
      readonly kind: 'upgraded';
      readonly response: IncomingMessage;
      readonly socket: Socket;
      readonly head: Buffer;
    }
  | { readonly kind: 'response'; readonly response: IncomingMessage };

/** One handshake attempt. */
export interface HandshakeRequest {
  /** The instance's origin (`http://host:port` or `https://...`). */
  readonly origin: string;
  /** Path and query to request (the instance's base path included). */
  readonly path: string;
  /** Request headers as a flat [name, value, ...] list, `Connection` and `Upgrade` included. */
  readonly headers: readonly string[];
  /** TLS options for an https origin. */
  readonly tls: ConnectionOptions | undefined;
  /** How long the instance may take to answer, ms. */
  readonly timeoutMs: number;
  /** Aborted when the client left before the answer: the half-open connection is not kept to the timeout. */
  readonly signal: AbortSignal;
}

/** The error of a handshake the instance did not answer in time; classified as a `timeout`. */
function timedOut(): Error {
  return Object.assign(new Error('the upstream did not answer the WebSocket handshake in time'), {
    code: 'ETIMEDOUT',
  });
}

/** Where a handshake for an origin connects: parsed once per origin, not per upgrade. */
interface OriginTarget {
  readonly secure: boolean;
  /** Host name or IP literal, without an IPv6 literal's brackets. */
  readonly host: string;
  readonly port: number;
  /** The Host header: host and port as the origin spells them. */
  readonly authority: string;
}

/** Parsed origins by origin string; instances that come and go with new addresses would grow it, hence the cap. */
const origins = new Map<string, OriginTarget>();
const MAX_ORIGINS = 1024;

function originTarget(origin: string): OriginTarget {
  let target = origins.get(origin);
  if (target === undefined) {
    const url = new URL(origin);
    const secure = url.protocol === 'https:';
    target = {
      secure,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      authority: url.host,
    };
    if (origins.size >= MAX_ORIGINS) origins.clear();
    origins.set(origin, target);
  }
  return target;
}

/**
 * Sends the handshake on a connection of its own (an upgraded connection never goes back to a pool) and resolves
 * with the answer; rejects with the socket error (ECONNREFUSED, ETIMEDOUT, ...) when there is none.
 */
export function upstreamHandshake(target: HandshakeRequest): Promise<HandshakeResult> {
  const { secure, host, port, authority } = originTarget(target.origin);
  const options = {
    host,
    port,
    method: 'GET',
    path: target.path,
    headers: [...target.headers, 'host', authority],
    agent: false,
    signal: target.signal,
    ...(secure ? target.tls : {}),
  };
  return new Promise((resolve, reject) => {
    const req = secure ? httpsRequest(options) : httpRequest(options);
    req.setTimeout(target.timeoutMs, () => req.destroy(timedOut()));
    // Kept for the request's whole life: an error after the answer (a reset while its body streams) must not
    // reach 'uncaughtException'; the relay of that body sees it on the response.
    req.on('error', reject);
    req.once('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      req.setTimeout(0);
      resolve({ kind: 'upgraded', response, socket, head });
    });
    req.once('response', (response: IncomingMessage) => {
      req.setTimeout(0);
      resolve({ kind: 'response', response });
    });
    req.end();
  });
}
