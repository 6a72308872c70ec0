/** Listens to one pub/sub channel on the backend's subscriber connection, and to its reconnects. */
import type { RedisClient } from '../store/backend.js';

/** What a channel listener hears: each message, every (re)connect (a full reload is due), and failures. */
export interface ChannelHandlers {
  readonly onMessage: (message: string) => void;
  readonly onReconnect: () => void;
  readonly onError: (err: unknown) => void;
}

/**
 * Subscribes `subscriber` to `channel`, but only while the connection is `ready`. ioredis 5 writes
 * SUBSCRIBE during the connect handshake (the command may run while Redis loads); its reply puts the
 * client in subscriber mode before the handshake's INFO, which is then refused, and the recovery
 * fails every queued command ("Connection in subscriber mode", redis/ioredis#2037). So a connection
 * still connecting is subscribed on its `ready` event instead. Every `ready` subscribes again (a
 * no-op when ioredis already re-subscribed) and then calls `onReconnect`, because messages published
 * while the connection was away are lost. Resolves once subscribed when the connection is ready now;
 * returns a function that stops listening.
 */
export async function listen(
  subscriber: RedisClient,
  channel: string,
  handlers: ChannelHandlers,
): Promise<() => Promise<void>> {
  let stopped = false;
  const onMessage = (from: string, message: string): void => {
    if (from === channel) handlers.onMessage(message);
  };
  const subscribe = (): Promise<unknown> => subscriber.subscribe(channel);
  const onReady = (): void => {
    subscribe().then(() => {
      if (!stopped) handlers.onReconnect();
    }, handlers.onError);
  };
  subscriber.on('message', onMessage);
  subscriber.on('ready', onReady);
  if (subscriber.status === 'ready') await subscribe();
  return async () => {
    stopped = true;
    subscriber.off('message', onMessage);
    subscriber.off('ready', onReady);
    if (subscriber.status === 'ready') await subscriber.unsubscribe(channel);
  };
}
