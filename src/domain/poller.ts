import type { Logger } from 'pino';
import type { TaskStore } from '../store/task-store.js';
import type { TaskService } from './task-service.js';

export interface PollerOptions {
  /** How many due tasks one pass takes from the store. */
  batchSize?: number;
  /** How long a claimed task is hidden from other passes while its poll runs. */
  leaseMs?: number;
  /** Upper bound on sleeping between passes (picks up tasks written by other processes). */
  idleMs?: number;
}

/**
 * Background progress: every task with a due poll time (kept in the store, so it survives a
 * restart) is polled once, whoever is reading it, until it reaches a terminal status.
 */
export class Poller {
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly idleMs: number;

  constructor(
    private readonly store: TaskStore,
    private readonly tasks: TaskService,
    private readonly logger: Logger,
    options: PollerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 64;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.idleMs = options.idleMs ?? 1000;
  }

  start(): void {
    this.stopped = false;
    this.schedule(Date.now());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** A task got a poll time: make sure the loop wakes up for it. */
  wake(at: number): void {
    if (!this.stopped && at < this.wakeAt) this.schedule(at);
  }

  private schedule(at: number): void {
    clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => void this.pass(), Math.max(0, at - Date.now()));
  }

  private async pass(): Promise<void> {
    if (this.running || this.stopped) return;
    this.wakeAt = Infinity;
    this.running = (async () => {
      try {
        let due;
        do {
          due = await this.store.claimDue(Date.now(), this.batchSize, this.leaseMs);
          await Promise.all(
            due.map((t) =>
              this.tasks
                .poll(t)
                .catch((err: unknown) => this.logger.error({ err, taskId: t.id }, 'poll crashed')),
            ),
          );
        } while (due.length === this.batchSize && !this.stopped);
      } catch (err) {
        this.logger.error({ err }, 'poller pass failed');
      }
    })();
    await this.running;
    this.running = undefined;
    if (this.stopped) return;
    const next = await this.store.nextDueAt().catch(() => null);
    const idle = Date.now() + this.idleMs;
    this.schedule(Math.min(next ?? idle, idle, this.wakeAt));
  }
}
