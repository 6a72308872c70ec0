/** Registers an instance through a gateway's admin API and heartbeats it (re-PUT) until stopped; used without Redis. */
import type { RegistryLogger } from '../discovery/registry.js';
import type { Registration } from '../discovery/client.js';
import type { RegistrationInput } from '../discovery/instance.js';
import { errorMessage, type AdminClient } from './admin-client.js';

/** What to register: the PUT body of `/admin/services/{service}/instances/{id}` plus its path. */
export interface AdminRegistrationOptions extends Omit<RegistrationInput, 'draining'> {
  readonly admin: AdminClient;
  readonly ttlMs: number;
  readonly logger: RegistryLogger;
}

/**
 * PUTs the instance and re-PUTs it every ttl/3 (two lost heartbeats still leave it registered).
 * Rejects when the first PUT fails; later failures are logged and retried on the next beat.
 */
export async function registerViaAdmin(options: AdminRegistrationOptions): Promise<Registration> {
  const path = `/admin/services/${encodeURIComponent(options.service)}/instances/${encodeURIComponent(options.id)}`;
  const body = {
    url: options.url,
    weight: options.weight,
    capacity: options.capacity,
    meta: options.meta,
    ttl: `${options.ttlMs}ms`,
  };
  const put = async (): Promise<void> => {
    const response = await options.admin.request('PUT', path, body);
    if (!response.ok)
      throw new Error(
        `${options.admin.baseUrl} refused the registration (${await errorMessage(response)})`,
      );
    await response.body?.cancel();
  };
  await put();

  let failing = false;
  let inFlight: Promise<void> = Promise.resolve();
  const beat = (): void => {
    inFlight = put()
      .then(() => {
        if (failing) options.logger.info(`registered ${options.service}/${options.id} again`);
        failing = false;
      })
      .catch((err: unknown) => {
        if (!failing)
          options.logger.warn(
            `heartbeat of ${options.service}/${options.id} failed; retrying every ${Math.round(options.ttlMs / 3)} ms`,
            (err as Error).message,
          );
        failing = true;
      });
  };
  const timer = setInterval(beat, Math.max(1, Math.floor(options.ttlMs / 3)));

  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    clearInterval(timer);
    await inFlight;
    try {
      const response = await options.admin.request('DELETE', path);
      // 404: already gone (expired or removed by an operator), which is what stopping wants.
      if (!response.ok && response.status !== 404) throw new Error(await errorMessage(response));
      await response.body?.cancel();
    } catch (err) {
      options.logger.warn(
        `deregistering ${options.service}/${options.id} failed; it expires within ${options.ttlMs} ms`,
        (err as Error).message,
      );
    }
  };
  return { id: options.id, stop: () => (stopped ??= stop()) };
}
