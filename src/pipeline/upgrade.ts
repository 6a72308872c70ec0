/**
 * WebSocket handshakes on the request path: HTTP/1.1 upgrades and HTTP/2 extended CONNECTs (RFC 8441), which
 * are refused, and the client's answer (`101`, or `200` on the stream).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerResponse, OutgoingHttpHeaders } from 'node:http2';
import type { Socket } from 'node:net';
import { HOP_BY_HOP } from '../config/hop-by-hop.js';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../request/context.js';
import type { WebSocketClose } from '../request/observer.js';
import { forwardWebSocket, type WebSocketForward } from '../proxy/websocket/forward-websocket.js';
import type { RuntimeRoute } from './snapshot.js';

/**
 * True for a WebSocket handshake: over HTTP/1.1 `Upgrade` lists the `websocket` protocol (RFC 6455 4.2.1:
 * case-insensitive); over HTTP/2 an extended CONNECT names it in `:protocol` (RFC 8441 4).
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  if (req.httpVersionMajor === 2) {
    const protocol = req.headers[':protocol'];
    return typeof protocol === 'string' && protocol.toLowerCase() === 'websocket';
  }
  const upgrade = req.headers.upgrade;
  return (
    upgrade !== undefined &&
    upgrade.split(',').some((token) => token.trim().toLowerCase() === 'websocket')
  );
}

/**
 * The method a request is routed by: a WebSocket's extended CONNECT routes as the `GET` of an HTTP/1.1
 * handshake, so `match.methods` treats both transports alike.
 */
export function routingMethod(req: IncomingMessage, webSocket: boolean): string {
  return webSocket && req.httpVersionMajor === 2 ? 'GET' : (req.method ?? 'GET');
}

/**
 * Refuses upgrades edgeway does not relay, before any stage runs (a refused upgrade costs no rate-limit token):
 * a WebSocket handshake on a route without `websocket`, or one without `Connection: Upgrade` (RFC 6455 4.2.1;
 * Node then parses it as a plain request); an extended CONNECT for another protocol; and another protocol's
 * HTTP/1.1 upgrade carrying a body, whose bytes Node left unparsed on the socket (the upgrade itself is
 * dropped: the request is forwarded as plain HTTP).
 */
export function checkUpgrade(
  req: IncomingMessage,
  route: RuntimeRoute,
  webSocket: boolean,
  parsedAsUpgrade: boolean,
): void {
  if (webSocket) {
    if (route.webSocket === undefined)
      throw new GatewayError(
        'bad_request',
        `route "${route.name}" does not accept WebSocket upgrades`,
      );
    // Node's HTTP/2 layer already checked the extended CONNECT's form (`:scheme`, `:path`; RFC 8441 4).
    if (req.httpVersionMajor === 2) return;
    if (!parsedAsUpgrade)
      throw new GatewayError('bad_request', 'a WebSocket handshake needs "Connection: Upgrade"');
    if (req.method !== 'GET')
      throw new GatewayError('bad_request', 'a WebSocket handshake is a GET request');
    // RFC 6455 4.2.1: the key is what the instance's `101` proves it understood the handshake with.
    if (typeof req.headers['sec-websocket-key'] !== 'string')
      throw new GatewayError('bad_request', 'a WebSocket handshake needs "Sec-WebSocket-Key"');
    return;
  }
  // Plain CONNECT never gets here (the listener refuses it): this one names a protocol edgeway does not carry.
  if (req.method === 'CONNECT')
    throw new GatewayError(
      'bad_request',
      `extended CONNECT for "${String(req.headers[':protocol'])}" is not supported`,
    );
  if (
    parsedAsUpgrade &&
    (req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] ?? '0') !== '0')
  ) {
    throw new GatewayError('bad_request', 'an upgrade request with a body is not supported');
  }
}

/** The status line every accepted HTTP/1.1 handshake gets (RFC 6455 4.2.2). */
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\n';

/**
 * Bytes an HTTP/1.1 client may send while its handshake is pending: RFC 6455 4.1 has it wait for the `101`
 * before its first frame, so more is no WebSocket client.
 */
const MAX_EARLY_BYTES = 65_536;

/** The client of an HTTP/1.1 upgrade: its socket leaves the HTTP server and carries the frames. */
function http1Client(ctx: RequestContext, head: Buffer): WebSocketForward['client'] {
  const socket = ctx.req.socket as Socket;
  let early = head;
  return {
    stream: socket,
    get head() {
      return early;
    },
    watchGone(gone) {
      if (socket.destroyed) {
        gone();
        return () => undefined;
      }
      // Node stopped reading the upgraded socket, so a FIN would go unseen: read it (keeping any bytes) until
      // the upstream answers.
      const onData = (chunk: Buffer): void => {
        early = Buffer.concat([early, chunk]);
        if (early.length > MAX_EARLY_BYTES) socket.destroy();
      };
      socket.on('data', onData);
      socket.once('end', gone);
      socket.once('close', gone);
      return () => {
        socket.off('data', onData);
        socket.off('end', gone);
        socket.off('close', gone);
        socket.pause();
      };
    },
    accept(headers) {
      ctx.res.detachSocket(socket);
      let text = SWITCHING;
      for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
      socket.write(`${text}\r\n`);
    },
  };
}

/**
 * Fields of the upstream's `101` that an HTTP/2 `200` must not carry: connection-specific ones (RFC 9113 8.2.2)
 * and the key proof, which RFC 8441 5 leaves out of the HTTP/2 handshake.
 */
const NOT_ON_HTTP2: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'sec-websocket-accept']);

/** The `200` of an extended CONNECT from the upstream's `101` headers (a flat [name, value, ...] list). */
function http2AcceptHeaders(headers: readonly string[]): OutgoingHttpHeaders {
  const named = new Set<string>();
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() !== 'connection') continue;
    for (const token of (headers[i + 1] as string).split(','))
      named.add(token.trim().toLowerCase());
  }
  const out: Record<string, string | string[]> = { ':status': '200' };
  for (let i = 0; i < headers.length; i += 2) {
    const name = (headers[i] as string).toLowerCase();
    if (NOT_ON_HTTP2.has(name) || named.has(name)) continue;
    const value = headers[i + 1] as string;
    const previous = out[name];
    out[name] =
      previous === undefined
        ? value
        : Array.isArray(previous)
          ? [...previous, value]
          : [previous, value];
  }
  return out;
}

/** The client of an extended CONNECT: its HTTP/2 stream carries the frames once it got its `200`. */
function http2Client(ctx: RequestContext): WebSocketForward['client'] {
  const { stream } = ctx.res as unknown as Http2ServerResponse;
  return {
    stream,
    head: Buffer.alloc(0),
    watchGone(gone) {
      if (stream.destroyed) {
        gone();
        return () => undefined;
      }
      stream.once('close', gone);
      return () => stream.off('close', gone);
    },
    accept(headers) {
      // A stream the client reset during the upstream handshake takes no answer; the relay then sees it closed.
      if (!stream.destroyed) stream.respond(http2AcceptHeaders(headers));
    },
  };
}

/** RFC 6455 1.3: the GUID the accept proof hashes with the key. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 4.2.2: the `Sec-WebSocket-Accept` that proves a server read `key`. */
function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID)
    .digest('base64');
}

/**
 * The upstream handshake's headers and the proof its `101` must carry, which edgeway checks before the client
 * gets a socket (RFC 6455 4.1). An HTTP/1.1 client's key goes through; an HTTP/2 client sends none (RFC 8441 5),
 * but the instance speaks RFC 6455 over HTTP/1.1 and needs one: edgeway makes it.
 */
function handshakeHeaders(
  req: IncomingMessage,
  headers: readonly string[],
): { headers: readonly string[]; expectedAccept: string } {
  if (req.httpVersionMajor !== 2)
    return { headers, expectedAccept: acceptFor(req.headers['sec-websocket-key'] as string) };
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() !== 'sec-websocket-key')
      out.push(headers[i] as string, headers[i + 1] as string);
  }
  const key = randomBytes(16).toString('base64');
  out.push('sec-websocket-key', key);
  return { headers: out, expectedAccept: acceptFor(key) };
}

/** Relays a WebSocket handshake, whichever transport carried it, to an instance and then its frames both ways. */
export function upgradeWebSocket(
  ctx: RequestContext,
  head: Buffer,
  rest: Omit<WebSocketForward, 'ctx' | 'client' | 'expectedAccept'>,
): Promise<WebSocketClose | undefined> {
  return forwardWebSocket({
    ...rest,
    ...handshakeHeaders(ctx.req, rest.headers),
    ctx,
    client: ctx.req.httpVersionMajor === 2 ? http2Client(ctx) : http1Client(ctx, head),
  });
}
