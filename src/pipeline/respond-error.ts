/** Writes the SPEC's JSON error answer, rendered by `renderError`, to a Node response, a fetch Response or a raw socket. */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { renderError, type ErrorHeaders, type GatewayError } from '../errors.js';
import { errorAnswerHeaders } from '../proxy/header-transforms.js';
import type { ResponseHeaderRules } from '../request/policy-state.js';

/**
 * Answers `err` unless headers already went out, in which case the response is cut short so the client
 * sees a truncated body rather than a wrong one.
 */
export function respondError(res: ServerResponse, err: GatewayError, requestId: string, extra: ErrorHeaders = [], rules?: ResponseHeaderRules): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, headers, body } = renderError(err, requestId, extra);
  res.writeHead(status, rules === undefined ? headers.flat() : errorAnswerHeaders(headers, rules));
  res.end(body);
}

/** The error answer as a fetch Response, for edgeway's Hono apps (admin API, public endpoints). */
export function errorResponse(err: GatewayError, requestId: string, extra: ErrorHeaders = []): Response {
  const { status, headers, body } = renderError(err, requestId, extra);
  return new Response(body, { status, headers: headers as Array<[string, string]> });
}

/** Writes the error answer on a socket the HTTP parser gave up on, then closes it. */
export function respondErrorOnSocket(socket: Socket, err: GatewayError, requestId: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { status, headers, body } = renderError(err, requestId, [['connection', 'close']]);
  const head = headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${head}\r\n${body}`);
}
