/** Last line of defence: an error nothing handled is logged and counted, and the process keeps serving. */
import type { Logger } from 'pino';

/** Errors that reached the process level since start (read by edgeway_process_errors_total). */
export const processErrors = { count: 0 };

/**
 * Installs `uncaughtException` and `unhandledRejection` handlers. One request's stream error that slipped
 * past its handlers must not take every other client's connection down with the process.
 */
export function guardProcess(logger: Logger): void {
  process.on('uncaughtException', (err, origin) => {
    processErrors.count++;
    logger.error({ err, origin }, 'unhandled error; the gateway keeps serving');
  });
  process.on('unhandledRejection', (reason) => {
    processErrors.count++;
    logger.error(
      { err: reason, origin: 'unhandledRejection' },
      'unhandled rejection; the gateway keeps serving',
    );
  });
}
