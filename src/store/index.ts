import type { Logger } from '../domain/logger.js';
import { MemoryTaskStore, type MemoryStoreLimits } from './memory-store.js';
import { RedisTaskStore } from './redis-store.js';
import { SqliteTaskStore } from './sqlite-store.js';
import type { TaskStore } from '../domain/task-store.js';

export interface TaskStoreOptions {
  /** Key prefix of the Redis store (REDIS_KEY_PREFIX, default `genway:`). */
  redisKeyPrefix?: string;
  /** Where the Redis store reports outages and recoveries. */
  logger?: Logger;
  /** What the memory store keeps of finished tasks (none: everything). */
  memoryLimits?: MemoryStoreLimits;
}

/** Builds the store named by STORE_URL (`sqlite:<path>`, `memory:`, `redis://`, `rediss://`). */
export function createTaskStore(url: string, options: TaskStoreOptions = {}): TaskStore {
  if (url === 'memory:') return new MemoryTaskStore(options.memoryLimits);
  if (url.startsWith('sqlite:')) return new SqliteTaskStore(url.slice('sqlite:'.length));
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    return new RedisTaskStore(url, { keyPrefix: options.redisKeyPrefix, logger: options.logger });
  }
  throw new Error(
    `STORE_URL: unsupported store ${url.split(':')[0]}: use sqlite:<path>, memory: or redis://`,
  );
}
