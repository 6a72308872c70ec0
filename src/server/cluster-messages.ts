/** The messages the `--workers` primary and its gateway workers exchange over the cluster IPC channel. */

/** The environment variable carrying a worker's slot number (1..N); worker 1 owns the admin listener. */
export const WORKER_INDEX_ENV = 'EDGEWAY_WORKER_INDEX';

/** Worker -> primary: `ready` once both listeners are bound; `reloaded` after an admin-triggered reload, to relay. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly port: number; readonly adminPort: number }
  | { readonly type: 'reloaded' };

/** Primary -> worker: `drain` stops the gateway and exits; `reload` re-reads the config. */
export type ParentMessage = { readonly type: 'drain' } | { readonly type: 'reload' };
