/** The bare reference proxy (port, then upstream origins, from argv; "ready" on stdout): the forwarder, nothing else. */
import { createServer } from 'node:http';
import { createForwarder, fail } from './reference-forwarder.js';

const forward = createForwarder(process.argv.slice(3));
const server = createServer((req, res) => {
  forward(req, res, (err) => {
    if (err !== null) fail(res);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
