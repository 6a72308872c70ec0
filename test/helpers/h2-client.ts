/** A node:http2 client for tests: one request on a session, with its status, headers, body and trailers. */
import {
  connect,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';

/** What came back for one HTTP/2 request. */
export interface H2Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly trailers: IncomingHttpHeaders | undefined;
  /** The response ended with its HEADERS frame (gRPC's trailers-only form). */
  readonly headersOnly: boolean;
}

/** Opens a session to `authority` (`http://` for h2c prior knowledge, `https://` for TLS with ALPN h2). */
export async function h2Connect(
  authority: string,
  options: SecureClientSessionOptions = {},
): Promise<ClientHttp2Session> {
  const session = connect(authority, options);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  // A session the gateway ends (GOAWAY) must not fail the test through an unhandled 'error'.
  session.on('error', () => undefined);
  return session;
}

/** Sends one request on `session`; `body` is written and the stream ended. */
export function h2Request(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  body?: string | Buffer,
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    let headersOnly = false;
    const chunks: Buffer[] = [];
    stream.on('response', (h, flags) => {
      status = Number(h[':status']);
      responseHeaders = h;
      headersOnly = (flags & 0x1) === 0x1;
    });
    stream.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () =>
      resolve({
        status,
        headers: responseHeaders,
        body: Buffer.concat(chunks).toString(),
        trailers,
        headersOnly,
      }),
    );
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}
