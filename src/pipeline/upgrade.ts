/** HTTP/1.1 upgrades on the request path: which are WebSocket handshakes, which are refused, and the client's `101`. */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError } from '../errors.js';
import type { RequestContext } from '../request/context.js';
import type { WebSocketClose } from '../request/observer.js';
import { forwardWebSocket, type WebSocketForward } from '../proxy/websocket/forward-websocket.js';
import type { RuntimeRoute } from './snapshot.js';

/** True when `Upgrade` lists the `websocket` protocol (RFC 6455 4.2.1: case-insensitive). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return (
    upgrade !== undefined &&
    upgrade.split(',').some((token) => token.trim().toLowerCase() === 'websocket')
  );
}

/**
 * Refuses upgrades edgeway does not relay, before any stage runs (a refused upgrade costs no rate-limit token):
 * a WebSocket handshake on a route without `websocket`, or one without `Connection: Upgrade` (RFC 6455 4.2.1;
 * Node then parses it as a plain request); and another protocol's upgrade carrying a body, whose bytes Node
 * left unparsed on the socket (the upgrade itself is dropped: the request is forwarded as plain HTTP).
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
    if (!parsedAsUpgrade)
      throw new GatewayError('bad_request', 'a WebSocket handshake needs "Connection: Upgrade"');
    if (req.method !== 'GET')
      throw new GatewayError('bad_request', 'a WebSocket handshake is a GET request');
    return;
  }
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

/** Relays an HTTP/1.1 WebSocket upgrade: the client's socket leaves the HTTP server and carries the frames. */
export function upgradeWebSocket(
  ctx: RequestContext,
  head: Buffer,
  rest: Omit<WebSocketForward, 'ctx' | 'client'>,
): Promise<WebSocketClose | undefined> {
  const socket = ctx.req.socket as Socket;
  return forwardWebSocket({
    ...rest,
    ctx,
    client: {
      stream: socket,
      head,
      accept(headers) {
        ctx.res.detachSocket(socket);
        let text = SWITCHING;
        for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
        socket.write(`${text}\r\n`);
      },
    },
  });
}
