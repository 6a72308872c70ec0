/** Requests with any Host, Origin or framing (fetch forbids setting Host), and uploads that stop when the server answers. */
import { request } from 'node:http';
import { connect } from 'node:net';

/** An answer: status, lower-cased headers and the body text. */
export interface Exchange {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Sends one request to 127.0.0.1:port with exactly these headers. */
export function exchange(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The parsed SPEC error body of an answer. */
export function errorOf(answer: Exchange): { code: string; message: string; requestId: string } {
  return (
    JSON.parse(answer.body) as { error: { code: string; message: string; requestId: string } }
  ).error;
}

/** What an upload that the server cut short achieved. */
export interface CutUpload {
  /** The raw answer (head and body) the server wrote. */
  readonly reply: string;
  /** Body bytes written before the answer came or the server closed. */
  readonly sent: number;
}

/**
 * Writes `head` (a raw request head) and then `chunk` repeatedly, at the pace the server reads, until the
 * server answers and closes the connection or `limit` body bytes were written.
 */
export function uploadUntilCut(
  port: number,
  head: string,
  chunk: Buffer,
  limit: number,
): Promise<CutUpload> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const replies: Buffer[] = [];
    let sent = 0;
    let answered = false;
    socket.on('data', (data: Buffer) => {
      answered = true;
      replies.push(data);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ reply: Buffer.concat(replies).toString('latin1'), sent }));
    const pump = (): void => {
      while (!answered && !socket.destroyed && sent < limit) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (sent >= limit) socket.end();
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
  });
}
