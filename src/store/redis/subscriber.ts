import { Redis } from 'ioredis';
import type { Logger } from '../../domain/logger.js';

/**
 * The one pub/sub connection of an instance: channels with their handlers, and the
 * listeners told when the subscription came back after a loss (messages may have been lost
 * meanwhile). ioredis subscribes again by itself after a reconnect.
 */
export class RedisSubscriber {
  private readonly client: Redis;
  private readonly handlers = new Map<string, (message: string) => void>();
  private readonly backListeners = new Set<() => void>();
  private lost = false;
  private closed = false;

  constructor(url: string, logger?: Logger) {
    this.client = new Redis(url, {
      maxRetriesPerRequest: null,
      connectTimeout: 3000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    });
    this.client.on('error', () => {
      // Reported by the store's own connection; listening keeps ioredis from crashing.
    });
    this.client.on('close', () => {
      if (!this.closed) this.lost = true;
    });
    this.client.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      logger?.info({}, 'redis: subscription back; waiters re-read');
      for (const back of this.backListeners) back();
    });
    this.client.on('message', (channel: string, message: string) => {
      this.handlers.get(channel)?.(message);
    });
  }

  on(channel: string, handler: (message: string) => void): void {
    this.handlers.set(channel, handler);
    this.client.subscribe(channel).catch(() => {
      // Subscribed again by ioredis on reconnect.
    });
  }

  /** Called when the subscription is back after a loss. */
  onBack(listener: () => void): void {
    this.backListeners.add(listener);
  }

  close(): void {
    this.closed = true;
    this.handlers.clear();
    this.backListeners.clear();
    this.client.disconnect();
  }
}
