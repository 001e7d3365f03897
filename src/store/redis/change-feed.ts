import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChangeFeed, ChangeListener } from '../../domain/change-feed.js';
import type { RedisSubscriber } from './subscriber.js';

export interface RedisChangeFeedOptions {
  /** The store's connection: PUBLISH goes through it. */
  publisher: Redis;
  /** The instance's pub/sub connection. */
  subscriber: RedisSubscriber;
  /** `<base>changes`: one channel for the whole gateway. */
  channel: string;
  /** Safety net against lost messages: waiters re-read at least this often (default 1 s). */
  rereadMs?: number;
}

/**
 * Task changes over Redis pub/sub, one channel. A message is `<instance id> <task id>`; an
 * instance hears its own changes at once, not through Redis, and skips them when they come
 * back. Pub/sub is at-most-once: a message published while a subscriber is away is lost, so
 * when the subscription comes back every local waiter is woken to re-read, and waits are cut
 * at `rereadMs` anyway.
 */
export class RedisChangeFeed implements ChangeFeed {
  readonly rereadMs: number;
  private readonly instance = randomUUID();
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly options: RedisChangeFeedOptions) {
    this.rereadMs = options.rereadMs ?? 1000;
    options.subscriber.on(options.channel, (message) => {
      const at = message.indexOf(' ');
      if (at < 0 || message.slice(0, at) === this.instance) return;
      const taskId = message.slice(at + 1);
      for (const listener of this.listeners) listener.changed(taskId);
    });
    options.subscriber.onBack(() => {
      for (const listener of this.listeners) listener.missed();
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
    this.listeners.clear();
  }
}
