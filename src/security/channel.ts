/** Listens to one pub/sub channel on the backend's subscriber connection, and to its reconnects. */
import type { RedisClient } from '../store/backend.js';

/** What a channel listener hears: each message, and every (re)connect, when a full reload is due. */
export interface ChannelHandlers {
  readonly onMessage: (message: string) => void;
  readonly onReconnect: () => void;
}

/**
 * Subscribes `subscriber` to `channel`. ioredis re-subscribes by itself after a reconnect, but the
 * messages published while it was away are lost, so `onReconnect` runs on every `ready` to reload.
 * Returns a function that stops listening.
 */
export async function listen(subscriber: RedisClient, channel: string, handlers: ChannelHandlers): Promise<() => Promise<void>> {
  const onMessage = (from: string, message: string): void => {
    if (from === channel) handlers.onMessage(message);
  };
  const onReady = (): void => handlers.onReconnect();
  subscriber.on('message', onMessage);
  subscriber.on('ready', onReady);
  await subscriber.subscribe(channel);
  return async () => {
    subscriber.off('message', onMessage);
    subscriber.off('ready', onReady);
    await subscriber.unsubscribe(channel);
  };
}
