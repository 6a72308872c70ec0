/** Writes the SPEC's JSON error answer, rendered by `renderError`, to a Node response, a fetch Response or a raw socket. */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { endWithHeaders } from '../proxy/relay.js';
import { renderError, renderGrpcError, type ErrorHeaders, type GatewayError } from '../errors.js';
import { errorAnswerHeaders } from '../proxy/header-transforms.js';
import type { ResponseHeaderRules } from '../request/policy-state.js';
import { grpcWebCall, type GrpcWebCall } from '../proxy/grpc-web.js';
import type { RuntimeRoute } from './snapshot.js';

/** A gRPC call (gRPC over HTTP/2: `application/grpc` or `application/grpc+proto`...), whatever its route. */
export function isGrpcRequest(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return (
    type !== undefined &&
    type.startsWith('application/grpc') &&
    (type.length === 16 || type[16] === '+' || type[16] === ';')
  );
}

/**
 * The content type of a refusal in gRPC's trailers-only form, or undefined for the JSON shape: a gRPC-Web
 * call's own flavour (matched or not), else `application/grpc` on a gRPC route or for a gRPC call. A `grpcWeb`
 * route's request was read as it was routed (`parsed`); any other request is read here.
 */
export function grpcAnswerType(
  req: IncomingMessage,
  route: RuntimeRoute | undefined,
  parsed: GrpcWebCall | undefined,
): string | undefined {
  const web = route?.plan.grpcWeb === true ? parsed : grpcWebCall(req.headers);
  if (web !== undefined) return web.answerType;
  if (route?.config.grpc === true || isGrpcRequest(req)) return 'application/grpc';
  return undefined;
}

/**
 * Answers `err` unless headers already went out, in which case the response is cut short so the client
 * sees a truncated body rather than a wrong one. With `grpcType` (the content type to answer with) the
 * answer is gRPC's trailers-only form instead.
 */
export function respondError(
  res: ServerResponse,
  err: GatewayError,
  requestId: string,
  extra: ErrorHeaders = [],
  rules?: ResponseHeaderRules,
  grpcType?: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const http2 = res.req?.httpVersionMajor === 2;
  const { status, headers, body } =
    grpcType !== undefined
      ? renderGrpcError(err, requestId, extra, grpcType)
      : renderError(err, requestId, extra);
  // RFC 9113 8.2.2: connection-specific fields are malformed in HTTP/2 (Node refuses to send them).
  const fields = http2 ? headers.filter(([name]) => name !== 'connection') : headers;
  if (grpcType !== undefined) {
    endWithHeaders(res, status, fields.flat());
    return;
  }
  res.writeHead(status, rules === undefined ? fields.flat() : errorAnswerHeaders(fields, rules));
  res.end(body);
}

/** The error answer as a fetch Response, for edgeway's Hono apps (admin API, public endpoints). */
export function errorResponse(
  err: GatewayError,
  requestId: string,
  extra: ErrorHeaders = [],
): Response {
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
