/**
 * Peer: fast-gateway (restana + fast-proxy-lite) with its defaults, one route `/gw` to the upstreams in turn
 * (port, then upstream origins, from argv; "ready" on stdout).
 */
import gateway from 'fast-gateway';

const upstreams = process.argv.slice(3);
let next = 0;
const server = gateway({
  routes: [
    {
      prefix: '/gw',
      target: upstreams[0] as string,
      // fast-gateway has one target per route; fast-proxy-lite takes a per-request `base` for balancing.
      proxyHandler: (
        req: unknown,
        res: unknown,
        url: string,
        proxy: (...args: unknown[]) => void,
        opts: { base?: string },
      ) => {
        opts.base = upstreams[next];
        next = (next + 1) % upstreams.length;
        proxy(req, res, url, opts);
      },
    },
  ],
});
void server.start(Number(process.argv[2]), '127.0.0.1').then(() => process.stdout.write('ready\n'));
