/**
 * The honest reference forwarder, the fastest one Node allows: node:http in, hop-by-hop headers stripped from
 * `req.rawHeaders` into a flat list, undici `Pool.stream()` out with the client's response as the stream the
 * upstream body is written to (no Readable in between), round-robin over one keep-alive Pool per upstream.
 * bench/reference-proxy.ts runs it bare; bench/logged-reference-proxy.ts adds an access line and metrics.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { HOP_BY_HOP } from '../src/config/hop-by-hop.js';

// RFC 9110 7.6.1 hop-by-hop fields both ways, and `host` on requests, which the Pool sets from the upstream's origin.
const RESPONSE_DROP = new Set<string>(HOP_BY_HOP);
const REQUEST_DROP = new Set<string>([...HOP_BY_HOP, 'host']);

/** What a finished forward reports to its caller: the error, if the upstream exchange failed. */
export type Done = (err: Error | null) => void;

/** The upstream's status and headers, less hop-by-hop ones, written to the client's response, which takes the body. */
function toClient({
  statusCode,
  headers,
  opaque,
}: Dispatcher.StreamFactoryData<ServerResponse>): Writable {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !RESPONSE_DROP.has(name)) out[name] = value;
  }
  opaque.writeHead(statusCode, out);
  return opaque as unknown as Writable;
}

/** Ends a failed exchange: 502 when nothing was sent yet, else cuts the connection. */
export function fail(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else res.writeHead(502, { 'content-length': '0' }).end();
}

/** A forward function over `origins`, 128 keep-alive connections each, taken in turn. */
export function createForwarder(
  origins: readonly string[],
): (req: IncomingMessage, res: ServerResponse, done: Done) => void {
  const pools = origins.map((origin) => new Pool(origin, { connections: 128, pipelining: 1 }));
  let next = 0;
  return (req, res, done) => {
    const pool = pools[next] as Pool;
    next = (next + 1) % pools.length;
    const raw = req.rawHeaders;
    const headers: string[] = [];
    let hasBody = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = (raw[i] as string).toLowerCase();
      if (name === 'content-length' || name === 'transfer-encoding') hasBody = true;
      if (!REQUEST_DROP.has(name)) headers.push(name, raw[i + 1] as string);
    }
    pool.stream(
      {
        path: req.url ?? '/',
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: hasBody ? req : null,
        opaque: res,
      },
      toClient,
      done,
    );
  };
}
