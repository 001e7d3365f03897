import type { DueSignal } from './due-signal.js';
import type { Logger } from './logger.js';

export interface DueLoopOptions<T> {
  /** Log label, e.g. "poller". */
  name: string;
  /** Takes up to `limit` due items from the store (leasing them so no one else does). */
  claim(now: number, limit: number): Promise<T[]>;
  /** Earliest next due time in the store, or null. */
  nextDueAt(): Promise<number | null>;
  /** Handles one claimed item; its own failures are logged here, never stop the loop. */
  handle(item: T): Promise<void>;
  /**
   * Hands back an item claimed but not started because the loop stopped meanwhile (due
   * again at once, for another process); without it such an item waits out its lease.
   */
  release?(item: T): Promise<void>;
  /** Item id for the log line of a failed `handle`. */
  idOf(item: T): string;
  logger: Logger;
  batchSize: number;
  /** Upper bound on sleeping between passes (picks up work written by other processes). */
  idleMs: number;
  /** Raised when work gets a due time in this process: the loop wakes up for it while running. */
  wakeOn?: DueSignal;
  now?: () => number;
}

/**
 * The background loop shared by the poller and the webhook dispatcher: one pass at a time
 * claims due work from the store in batches, then sleeps until the next due time (or
 * `idleMs`), and can be woken early when new work gets a due time in this process.
 */
export class DueLoop<T> {
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private running: Promise<void> | undefined;
  private stopped = true;
  private stopListening: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly o: DueLoopOptions<T>) {
    this.now = o.now ?? Date.now;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  start(): void {
    this.stopped = false;
    this.stopListening ??= this.o.wakeOn?.listen((at) => this.wake(at));
    this.schedule(this.now());
  }

  /** Stops scheduling passes and waits for the one in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopListening?.();
    this.stopListening = undefined;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Work got a due time: make sure the loop wakes up for it. */
  wake(at: number): void {
    if (!this.stopped && at < this.wakeAt) this.schedule(at);
  }

  private schedule(at: number): void {
    clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => void this.pass(), Math.max(0, at - this.now()));
  }

  private async pass(): Promise<void> {
    if (this.running || this.stopped) return;
    this.wakeAt = Infinity;
    this.running = (async () => {
      try {
        let due: T[];
        do {
          due = await this.o.claim(this.now(), this.o.batchSize);
          await Promise.all(
            due.map((item) => {
              const release = this.o.release;
              const run = this.stopped && release ? release(item) : this.o.handle(item);
              return run.catch((err: unknown) => {
                this.o.logger.error({ err, taskId: this.o.idOf(item) }, `${this.o.name} crashed`);
              });
            }),
          );
        } while (due.length === this.o.batchSize && !this.stopped);
      } catch (err) {
        this.o.logger.error({ err }, `${this.o.name} pass failed`);
      }
    })();
    await this.running;
    this.running = undefined;
    if (this.stopped) return;
    const next = await this.o.nextDueAt().catch(() => null);
    const idle = this.now() + this.o.idleMs;
    this.schedule(Math.min(next ?? idle, idle, this.wakeAt));
  }
}
