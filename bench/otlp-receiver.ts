/** Benchmark OTLP/HTTP receiver: accepts trace exports, answers 200 (port from argv, "ready" on stdout). */
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () =>
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end(),
  );
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));
// Started with an IPC channel (bench/span-cost.ts), it ends with its parent, even one killed.
process.on('disconnect', () => process.exit(0));
