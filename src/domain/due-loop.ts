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
  /** Item id for the log line of a failed `handle` (and to never handle one item twice at once). */
  idOf(item: T): string;
  logger: Logger;
  /** Most items one claim takes from the store. */
  batchSize: number;
  /**
   * Workers: items handled at once. While one is free the loop keeps claiming; a slow item
   * holds one worker, never the others. Default: `batchSize`.
   */
  concurrency?: number;
  /** Upper bound on sleeping between passes (picks up work written by other processes). */
  idleMs: number;
  /** Raised when work gets a due time in this process: the loop wakes up for it while running. */
  wakeOn?: DueSignal;
  now?: () => number;
}

/**
 * The background loop shared by the poller and the webhook dispatcher: a bounded pool of
 * workers fed by claims of due work from the store. A pass claims as many items as workers
 * are free (in batches) and hands each to a worker without waiting for the others; a worker
 * that finishes while the pool was full starts the next pass at once. Between passes the loop
 * sleeps until the next due time (or `idleMs`), and is woken early when new work gets a due
 * time in this process.
 */
export class DueLoop<T> {
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private claiming: Promise<void> | undefined;
  private stopped = true;
  private stopListening: (() => void) | undefined;
  private readonly now: () => number;
  private readonly concurrency: number;
  /** Items being handled, by id, with the promise of their handling. */
  private readonly working = new Map<string, Promise<void>>();
  /** The last pass stopped because every worker was busy: the next free one claims. */
  private saturated = false;

  constructor(private readonly o: DueLoopOptions<T>) {
    this.now = o.now ?? Date.now;
    this.concurrency = Math.max(1, o.concurrency ?? o.batchSize);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  start(): void {
    this.stopped = false;
    this.stopListening ??= this.o.wakeOn?.listen((at) => this.wake(at));
    this.schedule(this.now());
  }

  /** Stops claiming and waits for the pass and the items in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopListening?.();
    this.stopListening = undefined;
    clearTimeout(this.timer);
    await this.claiming;
    await Promise.all(this.working.values());
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
    if (this.claiming || this.stopped) return;
    this.wakeAt = Infinity;
    this.saturated = false;
    this.claiming = this.claimWhileFree();
    await this.claiming;
    this.claiming = undefined;
    // Full pool: a worker that finishes claims again (see run); no timer needed meanwhile.
    if (this.stopped || this.saturated) return;
    const next = await this.o.nextDueAt().catch(() => null);
    const idle = this.now() + this.o.idleMs;
    this.schedule(Math.min(next ?? idle, idle, this.wakeAt));
  }

  /** Claims due items for the free workers until the store has none due or no worker is free. */
  private async claimWhileFree(): Promise<void> {
    try {
      while (!this.stopped) {
        const free = this.concurrency - this.working.size;
        if (free <= 0) {
          this.saturated = true;
          return;
        }
        const limit = Math.min(free, this.o.batchSize);
        const due = await this.o.claim(this.now(), limit);
        for (const item of due) this.run(item);
        if (due.length < limit) return;
      }
    } catch (err) {
      this.o.logger.error({ err }, `${this.o.name} pass failed`);
    }
  }

  /** Hands `item` to a worker; an item already being handled (its lease ran out) is left alone. */
  private run(item: T): void {
    const id = this.o.idOf(item);
    if (this.working.has(id)) return;
    const done = this.o
      .handle(item)
      .catch((err: unknown) => {
        this.o.logger.error({ err, taskId: id }, `${this.o.name} crashed`);
      })
      .finally(() => {
        this.working.delete(id);
        if (this.saturated && !this.stopped) {
          this.saturated = false;
          this.schedule(this.now());
        }
      });
    this.working.set(id, done);
  }
}
