/** A steady loop of keep-alive clients, each sending its next request as soon as the last one answered. */
import { Agent, request } from 'node:http';

/** What the clients saw. */
export interface LoadTally {
  /** Requests answered 200. */
  ok: number;
  /**
   * New connections refused or reset before any answer (nothing listens any more; under node:cluster the
   * primary resets connections still queued for hand-off when the last worker leaves): the gateway never read
   * the request, so the client may send it elsewhere. A reset on a reused keep-alive connection is a failure.
   */
  refused: number;
  /** Everything else: other statuses, resets, hang-ups, truncated bodies. */
  readonly failures: string[];
}

/** A running load; `stop()` ends every loop and returns the tally. */
export interface KeepAliveLoad {
  readonly tally: LoadTally;
  stop(): Promise<LoadTally>;
}

type Result = number | { readonly code: string; readonly reused: boolean };

function send(agent: Agent, url: string): Promise<Result> {
  return new Promise((resolve) => {
    const req = request(url, { agent, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ code: `body ${err.code ?? err.message}`, reused: true }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: err.code ?? err.message, reused: req.reusedSocket }),
    );
    req.end();
  });
}

/**
 * Starts `clients` loops, each on its own keep-alive connection. A client whose new connection is refused stops
 * (the gateway is gone); every other failure is recorded.
 */
export function keepAliveLoad(url: string, clients: number): KeepAliveLoad {
  const tally: LoadTally = { ok: 0, refused: 0, failures: [] };
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (running) {
        const result = await send(agent, url);
        if (result === 200) tally.ok++;
        else if (typeof result === 'number') tally.failures.push(`status ${result}`);
        else if (
          !result.reused &&
          (result.code === 'ECONNREFUSED' || result.code === 'ECONNRESET')
        ) {
          tally.refused++;
          return;
        } else
          tally.failures.push(`${result.code}${result.reused ? ' on a reused connection' : ''}`);
      }
    } finally {
      agent.destroy();
    }
  });
  return {
    tally,
    async stop() {
      running = false;
      await Promise.all(loops);
      return tally;
    },
  };
}
