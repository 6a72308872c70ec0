/** Benchmark upstream: a node:http server answering a ~100-byte JSON body (port from argv, "ready" on stdout). */
import { createServer } from 'node:http';

const body = JSON.stringify({
  id: 7,
  name: 'benchmark',
  items: [1, 2, 3],
  status: 'ok',
  note: 'a small json answer',
});
const delayMs = Number(process.argv[3] ?? 0);
const server = createServer((req, res) => {
  const answer = (): void => {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
  req.resume();
  if (delayMs > 0) setTimeout(answer, delayMs);
  else answer();
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
