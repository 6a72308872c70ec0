/** Sends raw bytes over a TCP socket and returns everything the server answered until it closed or went quiet. */
import { connect } from 'node:net';

/** Writes `data` to 127.0.0.1:port and collects the reply (closes after `quietMs` without data). */
export function rawRequest(port: number, data: string, quietMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(finish, quietMs);
    };
    socket.on('connect', () => {
      socket.write(data);
      arm();
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      arm();
    });
    socket.on('end', finish);
    socket.on('error', (err) => (chunks.length > 0 ? finish() : reject(err)));
  });
}

/** The status code of the first response in a raw reply. */
export function statusOf(reply: string): number {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(reply);
  return match ? Number(match[1]) : 0;
}

/** How many HTTP responses a raw reply holds. */
export function responseCount(reply: string): number {
  return reply.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0;
}
