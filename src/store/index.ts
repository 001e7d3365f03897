import { MemoryTaskStore } from './memory-store.js';
import { SqliteTaskStore } from './sqlite-store.js';
import type { TaskStore } from '../domain/task-store.js';

/** Builds the store named by STORE_URL (`sqlite:<path>`, `memory:`). */
export function createTaskStore(url: string): TaskStore {
  if (url === 'memory:') return new MemoryTaskStore();
  if (url.startsWith('sqlite:')) return new SqliteTaskStore(url.slice('sqlite:'.length));
  // The contract reserves redis:// for a networked store; it is not implemented yet.
  throw new Error(
    `STORE_URL: unsupported store ${url.split(':')[0]}: use sqlite:<path> or memory:`,
  );
}

export type { TaskStore, ListQuery } from '../domain/task-store.js';
