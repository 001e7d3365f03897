import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../domain/logger.js';

/** What the store tells the app about the Redis server it runs on. */
export interface RedisWatchOptions {
  logger?: Logger;
  /** Redis lost its data (restarted without persistence, flushed, evicted everything). */
  onReset?: () => void;
  /** How often the epoch key is checked besides each reconnect (default 10 s). */
  checkEveryMs?: number;
}

/**
 * Detects Redis data loss: an epoch key set (NX) once, and checked on every reconnect and
 * every `checkEveryMs`. When it is gone (or another instance already replaced it after a
 * loss) the data it stood for is gone: logged as an error and reported once per loss.
 */
export class EpochWatch {
  private epoch: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly options: RedisWatchOptions = {},
  ) {
    this.timer = setInterval(() => void this.check(), options.checkEveryMs ?? 10_000);
    this.timer.unref();
    redis.on('ready', () => void this.check());
    if (redis.status === 'ready') void this.check();
  }

  /** Checks the epoch now (at most one check at a time); never throws. */
  check(): Promise<void> {
    this.checking ??= this.checkOnce()
      .catch(() => {
        // Redis away: the next reconnect checks again.
      })
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    await this.redis.set(this.key, randomUUID(), 'NX');
    const current = await this.redis.get(this.key);
    if (current === null) return;
    if (this.epoch !== undefined && current !== this.epoch) {
      this.options.logger?.error(
        { epochKey: this.key },
        'redis: the store lost its data (epoch key gone: Redis restarted without persistence, was flushed or evicted keys); tasks, claims and idempotency keys written before are gone',
      );
      this.options.onReset?.();
    }
    this.epoch = current;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Start-up warnings about a Redis that can lose genway's state: no AOF (a restart loses
 * what was written since the last snapshot) or a memory policy that evicts keys. Either
 * check may be refused (CONFIG is often disabled on managed Redis): then it says so once.
 */
export async function warnAboutRedisSettings(redis: Redis, logger: Logger): Promise<void> {
  try {
    const info = await redis.info('persistence');
    if (!/^aof_enabled:1\s*$/m.test(info)) {
      logger.warn(
        {},
        'redis: runs without AOF (appendonly no): a Redis restart loses recent tasks and claims; set appendonly yes (see README, Cluster mode)',
      );
    }
  } catch (err) {
    logger.warn({ err }, 'redis: INFO persistence refused; cannot check that AOF is on');
  }
  try {
    const reply = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== undefined && policy !== 'noeviction') {
      logger.warn(
        { policy },
        'redis: maxmemory-policy evicts keys: tasks and claims may vanish under memory pressure; set maxmemory-policy noeviction',
      );
    }
  } catch (err) {
    logger.warn(
      { err },
      'redis: CONFIG GET refused; cannot check maxmemory-policy (use noeviction)',
    );
  }
}
