/** The reference proxy the gateway is measured against: node:http forwarding through undici Pools, nothing else. */
import { createServer } from 'node:http';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';

const port = Number(process.argv[2]);
const pools = process.argv
  .slice(3)
  .map((origin) => new Pool(origin, { connections: 128, pipelining: 1 }));
let next = 0;

const server = createServer((req, res) => {
  const pool = pools[next++ % pools.length] as Pool;
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    if (name !== 'connection' && name !== 'host' && name !== 'keep-alive')
      headers[name] = req.rawHeaders[i + 1] as string;
  }
  pool
    .request({
      path: req.url ?? '/',
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
        pipeline(upstream.body, res, () => undefined);
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
