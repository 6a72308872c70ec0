/**
 * A WebSocket client over HTTP/2 (RFC 8441) for tests: node:http2's extended CONNECT carries the stream, and the
 * frames are made and read by the `ws` package's own exported Sender and Receiver (masked, as a client's are).
 */
import { once } from 'node:events';
import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import * as ws from 'ws';

/** The part of `ws`'s Sender and Receiver used here (their classes are exported, their types are not). */
interface FrameSender {
  send(data: Buffer | string, options: { binary: boolean; fin: boolean; mask: boolean }): void;
  close(code: number, reason: string, mask: boolean): void;
}
interface FrameReceiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, binary: boolean) => void): this;
  on(event: 'conclude', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}
const { Sender, Receiver } = ws as unknown as {
  Sender: new (socket: Duplex) => FrameSender;
  Receiver: new (options: { isServer: boolean }) => FrameReceiver;
};

/** An open WebSocket on one HTTP/2 stream. */
export class H2WebSocket {
  readonly #sender: FrameSender;
  readonly #messages: Buffer[] = [];
  #waiting: ((message: Buffer) => void) | undefined;
  /** The server's Close frame (code and reason), once one arrived. */
  readonly closeFrame: Promise<{ code: number; reason: string }>;

  constructor(
    readonly stream: ClientHttp2Stream,
    readonly headers: IncomingHttpHeaders,
  ) {
    this.#sender = new Sender(stream);
    const receiver = new Receiver({ isServer: false });
    receiver.on('message', (data) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting === undefined) this.#messages.push(data);
      else waiting(data);
    });
    receiver.on('error', () => stream.destroy());
    this.closeFrame = new Promise((resolve) =>
      receiver.on('conclude', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    stream.on('data', (chunk: Buffer) => receiver.write(chunk));
  }

  /** Sends one message (text for a string). */
  send(data: string | Buffer): void {
    this.#sender.send(data, { binary: typeof data !== 'string', fin: true, mask: true });
  }

  /** The next message the server sent. */
  next(): Promise<Buffer> {
    const queued = this.#messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  /** Sends `data` and waits for the next message (an echo). */
  async echo(data: string | Buffer): Promise<string> {
    this.send(data);
    return (await this.next()).toString();
  }

  /** Starts the closing handshake (RFC 6455 7.1.2); the stream ends once the server answered it. */
  close(code = 1000, reason = ''): void {
    this.#sender.close(code, reason, true);
    void this.closeFrame.then(() => this.stream.end());
  }
}

/** A handshake the gateway or the upstream refused: its status, headers and body. */
export interface H2Refusal {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Waits until the server's SETTINGS allow extended CONNECT (RFC 8441 3); rejects if they never do. */
export async function connectProtocolEnabled(session: ClientHttp2Session): Promise<boolean> {
  // @types/node types the setting as never true; node:http2 reports the peer's value.
  const enabled = (): boolean => (session.remoteSettings.enableConnectProtocol as boolean) === true;
  if (enabled()) return true;
  await once(session, 'remoteSettings');
  return enabled();
}

/**
 * Opens `path` as a WebSocket with an extended CONNECT (`:protocol websocket`, RFC 8441 4). Resolves with the
 * socket on a 200, with the refusal otherwise.
 */
export async function openH2WebSocket(
  session: ClientHttp2Session,
  path: string,
  headers: OutgoingHttpHeaders = {},
): Promise<H2WebSocket | H2Refusal> {
  await connectProtocolEnabled(session);
  const stream = session.request({
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'http',
    ':path': path,
    'sec-websocket-version': '13',
    ...headers,
  });
  stream.on('error', () => undefined);
  const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  const status = Number(response[':status']);
  if (status === 200) return new H2WebSocket(stream, response);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { status, headers: response, body: Buffer.concat(chunks).toString() };
}

/** {@link openH2WebSocket} that fails the test unless the socket opened. */
export async function openedH2WebSocket(
  session: ClientHttp2Session,
  path: string,
  headers: OutgoingHttpHeaders = {},
): Promise<H2WebSocket> {
  const socket = await openH2WebSocket(session, path, headers);
  if (socket instanceof H2WebSocket) return socket;
  throw new Error(`the WebSocket was refused: ${socket.status} ${socket.body}`);
}

/** {@link openH2WebSocket} that fails the test unless the handshake was refused. */
export async function refusedH2WebSocket(
  session: ClientHttp2Session,
  path: string,
  headers: OutgoingHttpHeaders = {},
): Promise<H2Refusal> {
  const socket = await openH2WebSocket(session, path, headers);
  if (!(socket instanceof H2WebSocket)) return socket;
  socket.stream.close();
  throw new Error(`the WebSocket opened (${path}), a refusal was expected`);
}
