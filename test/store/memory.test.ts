import { MemoryTaskStore } from '../../src/store/memory-store.js';
import type { TaskStore } from '../../src/domain/task-store.js';
import { describeTaskStoreConformance } from './conformance.js';

// One process: a second handle on the same data is the same object.
const spaces = new Map<string, TaskStore>();
describeTaskStoreConformance('memory', (space) => {
  let store = spaces.get(space);
  if (!store) spaces.set(space, (store = new MemoryTaskStore()));
  return store;
});
