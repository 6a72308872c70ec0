/**
 * The HTTP/2 reference forwarder: node:http2 (h2c) in front of an undici Pool, nothing else. The body goes
 * through `pipe` with an error handler rather than `stream.pipeline`, whose AbortController and DOMException
 * per call took ~20% of this forwarder's CPU in a profile: the reference is the fastest forwarder these two
 * libraries make, so the ratio against it is not flattered.
 */
import { createServer } from 'node:http2';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const pool = new Pool(process.argv[3] as string, { connections: 128, pipelining: 1 });

const server = createServer({ settings: { maxConcurrentStreams: 100 } }, (req, res) => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (!name.startsWith(':') && typeof value === 'string') headers[name] = value;
  pool
    .request({
      path: req.url,
      method: req.method as 'GET',
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    })
    .then(
      (upstream) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstream.headers)) {
          if (
            value !== undefined &&
            name !== 'connection' &&
            name !== 'keep-alive' &&
            name !== 'transfer-encoding'
          )
            out[name] = value;
        }
        res.writeHead(upstream.statusCode, out);
        upstream.body.on('error', () => res.destroy());
        res.once('close', () => upstream.body.destroy());
        upstream.body.pipe(res);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
