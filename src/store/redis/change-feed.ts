import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ChangeFeed, ChangeListener } from '../../domain/change-feed.js';
import type { Logger } from '../../domain/logger.js';

export interface RedisChangeFeedOptions {
  /** The store's connection: PUBLISH goes through it. */
  publisher: Redis;
  /** `<base>changes`: one channel for the whole gateway. */
  channel: string;
  /** Safety net against lost messages: waiters re-read at least this often (default 1 s). */
  rereadMs?: number;
  logger?: Logger;
}

/**
 * Task changes over Redis pub/sub: one subscriber connection per instance on one channel.
 * A message is `<instance id> <task id>`; an instance hears its own changes at once, not
 * through Redis, and skips them when they come back. Pub/sub is at-most-once: a message
 * published while a subscriber is away is lost, so when the subscription comes back every
 * local waiter is woken to re-read, and waits are cut at `rereadMs` anyway.
 */
export class RedisChangeFeed implements ChangeFeed {
  readonly rereadMs: number;
  private readonly instance = randomUUID();
  private readonly listeners = new Set<ChangeListener>();
  private readonly subscriber: Redis;
  private lost = false;
  private closed = false;

  constructor(
    url: string,
    private readonly options: RedisChangeFeedOptions,
  ) {
    this.rereadMs = options.rereadMs ?? 1000;
    const logger = options.logger;
    // ioredis subscribes again by itself after a reconnect (autoResubscribe).
    this.subscriber = new Redis(url, {
      maxRetriesPerRequest: null,
      connectTimeout: 3000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    });
    this.subscriber.on('error', () => {
      // Reported by the store's own connection; listening keeps ioredis from crashing.
    });
    this.subscriber.on('close', () => {
      if (!this.closed) this.lost = true;
    });
    this.subscriber.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      logger?.info({}, 'redis: change subscription back; waiters re-read');
      for (const listener of this.listeners) listener.missed();
    });
    this.subscriber.on('message', (_channel: string, message: string) => {
      const at = message.indexOf(' ');
      if (at < 0 || message.slice(0, at) === this.instance) return;
      const taskId = message.slice(at + 1);
      for (const listener of this.listeners) listener.changed(taskId);
    });
    this.subscriber.subscribe(options.channel).catch(() => {
      // Retried by ioredis on reconnect; until then the re-read interval covers.
    });
  }

  publish(taskId: string): void {
    for (const listener of this.listeners) listener.changed(taskId);
    const { publisher, channel } = this.options;
    // Not connected: the other instances' re-read interval covers the lost message.
    if (publisher.status !== 'ready') return;
    publisher.publish(channel, `${this.instance} ${taskId}`).catch(() => {});
  }

  subscribe(listener: ChangeListener): void {
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.subscriber.disconnect();
  }
}
