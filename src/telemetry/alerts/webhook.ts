/** Delivers alert notifications as JSON POSTs, with a timeout and retries, detached from the request path. */
import type { Logger } from 'pino';

/** Options for {@link WebhookSender}. */
export interface WebhookOptions {
  /** Where failed deliveries are reported. */
  readonly logger: Logger;
  /** Per-attempt timeout, milliseconds (default 3000). */
  readonly timeoutMs?: number;
  /** Attempts per URL including the first (default 4). */
  readonly attempts?: number;
  /** Delay before retry n (1-based), milliseconds (default 250 * 2^(n-1)). */
  readonly backoffMs?: (retry: number) => number;
}

/** Posts JSON bodies to a fixed list of webhook URLs. */
export class WebhookSender {
  readonly #urls: readonly string[];
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #backoffMs: (retry: number) => number;
  // One delivery chain per URL: a retried `firing` must not arrive after the episode's `resolved`.
  readonly #tails = new Map<string, Promise<void>>();

  readonly #logger: Logger;

  constructor(urls: readonly string[], options: WebhookOptions) {
    this.#urls = urls;
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#attempts = options.attempts ?? 4;
    this.#backoffMs = options.backoffMs ?? ((retry) => 250 * 2 ** (retry - 1));
  }

  /** Queues `body` for every URL, in order per URL, in the background; failures are logged, never thrown. */
  send(body: unknown): void {
    const json = JSON.stringify(body);
    for (const url of this.#urls) {
      const tail = (this.#tails.get(url) ?? Promise.resolve())
        .then(() => this.#deliver(url, json))
        .catch((err: unknown) => {
          this.#logger.warn({ err, url }, 'alert webhook delivery failed');
        });
      this.#tails.set(url, tail);
      void tail.then(() => {
        if (this.#tails.get(url) === tail) this.#tails.delete(url);
      });
    }
  }

  /** Waits for queued deliveries (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.#tails.values()]);
  }

  async #deliver(url: string, json: string): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (attempt > 1)
        await new Promise((resolve) => setTimeout(resolve, this.#backoffMs(attempt - 1)));
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: json,
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        await response.arrayBuffer();
        if (response.ok) return;
        lastError = new Error(`webhook answered ${response.status}`);
        // 4xx other than 408/429 will not improve on retry.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  }
}
