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
  private readonly liveListeners = new Map<string, (live: boolean) => void>();
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
      for (const live of this.liveListeners.values()) live(false);
    });
    this.client.on('ready', () => {
      for (const [channel, live] of this.liveListeners) this.confirm(channel, live);
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

  /**
   * `on`, also telling `live` when the channel's subscription stands (true: from the
   * subscription's confirmation) and when messages may be missed (false: connection lost).
   */
  watch(channel: string, handler: (message: string) => void, live: (live: boolean) => void): void {
    this.handlers.set(channel, handler);
    this.liveListeners.set(channel, live);
    if (this.client.status === 'ready') this.confirm(channel, live);
  }

  /** Subscribes (again: harmless when ioredis did already) and reports once Redis confirmed. */
  private confirm(channel: string, live: (live: boolean) => void): void {
    this.client.subscribe(channel).then(
      () => {
        if (this.client.status === 'ready' && !this.closed) live(true);
      },
      () => live(false),
    );
  }

  /** Called when the subscription is back after a loss. */
  onBack(listener: () => void): void {
    this.backListeners.add(listener);
  }

  close(): void {
    this.closed = true;
    this.handlers.clear();
    this.backListeners.clear();
    for (const live of this.liveListeners.values()) live(false);
    this.liveListeners.clear();
    this.client.disconnect();
  }
}
