import type { Redis } from 'ioredis';
import { InProcessChangeFeed, type ChangeFeed } from '../domain/change-feed.js';
import type { SharedCircuits } from '../domain/credential-health.js';
import type { Logger } from '../domain/logger.js';
import type { SharedSlots } from '../domain/shared-slots.js';
import { PollBudget, type PollAdmission, type PollRateOf } from '../domain/poll-budget.js';
import type { TaskStore } from '../domain/task-store.js';
import { RedisTaskStore } from './redis-store.js';

/**
 * What the instances sharing a store share besides its data. One process (memory, SQLite):
 * an in-process change feed and nothing else. Redis (cluster mode): see
 * RedisTaskStore.coordination.
 */
export interface StoreCoordination {
  feed: ChangeFeed;
  /** Cluster mode: where shared limits count (the tenant rate limit), under `keyPrefix`. */
  sharedRedis?: { client: Redis; keyPrefix: string };
  /** Cluster mode: circuit-breaker transitions and half-open trials shared by all instances. */
  circuits?: SharedCircuits;
  /**
   * Cluster mode: credential in-flight slots counted over all instances (one process: each
   * pool counts its own).
   */
  slots?: SharedSlots;
  /** Polls per second per credential: in-process, or over all instances in cluster mode. */
  pollBudget(rateOf: PollRateOf): PollAdmission;
  close(): Promise<void>;
}

export interface CoordinationOptions {
  logger?: Logger;
  /** Redis lost its data (see redis/server-checks.ts). */
  onReset?: () => void;
  /** How long a create's slot reservation lasts before its task is stored (default 30 s). */
  slotLeaseMs?: number;
}

export function coordinationFor(
  store: TaskStore,
  options: CoordinationOptions = {},
): StoreCoordination {
  if (store instanceof RedisTaskStore) return store.coordination(options);
  const feed = new InProcessChangeFeed();
  return { feed, pollBudget: (rateOf) => new PollBudget(rateOf), close: () => feed.close() };
}
