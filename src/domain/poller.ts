import type { Logger } from './logger.js';
import type { TaskStore } from './task-store.js';
import { DueLoop } from './due-loop.js';
import type { DueSignal } from './due-signal.js';
import type { TaskRecord } from './task-record.js';
import type { TaskService } from './task-service.js';

export interface PollerOptions {
  /** How many due tasks one pass takes from the store. */
  batchSize?: number;
  /** How long a claimed task is hidden from other passes while its poll runs. */
  leaseMs?: number;
  /** Upper bound on sleeping between passes (picks up tasks written by other processes). */
  idleMs?: number;
  /** Raised when a task gets a poll time in this process (the task writer): wakes the loop. */
  due?: DueSignal;
}

/**
 * Background progress: every task with a due poll time (kept in the store, so it survives a
 * restart) is polled once, whoever is reading it, until it reaches a terminal status.
 */
export class Poller {
  private readonly loop: DueLoop<TaskRecord>;

  constructor(store: TaskStore, tasks: TaskService, logger: Logger, options: PollerOptions = {}) {
    const leaseMs = options.leaseMs ?? 60_000;
    this.loop = new DueLoop({
      name: 'poll',
      claim: (now, limit) => store.claimDue(now, limit, leaseMs),
      nextDueAt: () => store.nextDueAt(),
      handle: (task) => tasks.poll(task),
      // Claimed while stopping (SIGTERM): due again now, for another instance.
      release: (task) => tasks.releaseClaim(task),
      idOf: (task) => task.id,
      logger,
      batchSize: options.batchSize ?? 64,
      idleMs: options.idleMs ?? 1000,
      wakeOn: options.due,
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
