import { InProcessChangeFeed, type ChangeFeed } from './change-feed.js';

/** A registration for the next change of a task: `changed` settles once; `cancel` drops it. */
export interface TaskWatch {
  /**
   * Resolves true on the next change (or when the feed's re-read interval cut the wait: a
   * change may have been missed, so read again), false after the timeout or on abort.
   */
  changed: Promise<boolean>;
  cancel(): void;
}

/**
 * Notifications of task changes, so long-polling clients wake up the moment a change is
 * written instead of re-reading the store. A waiter costs one closure and one timer, no CPU
 * while it waits. Changes arrive through a ChangeFeed (in-process by default; Redis pub/sub
 * in cluster mode, so a change written by any instance wakes the waiters of all).
 *
 * Register before reading (`watch`): a change between the read and the wait is then never
 * missed. Over a lossy feed every waiter is woken at the feed's re-read interval, so a lost
 * message delays a waiter by at most that; one timer wakes them all together, so that the
 * waiters of a task share their re-read (see SharedReads) instead of each reading on a
 * timer of its own.
 */
export class TaskEvents {
  private readonly waiters = new Map<string, Set<(notified: boolean) => void>>();
  private readonly feed: ChangeFeed;
  /** The re-read tick of a lossy feed; runs only while someone waits. */
  private rereadTimer: NodeJS.Timeout | undefined;
  private readonly changeListeners: ((taskId: string) => void)[] = [];

  constructor(feed: ChangeFeed = new InProcessChangeFeed()) {
    this.feed = feed;
    feed.subscribe({ changed: (id) => this.notify(id), missed: () => this.wakeAll() });
  }

  /** A change of the task was stored: wakes its waiters here and on every other instance. */
  publish(taskId: string): void {
    this.feed.publish(taskId);
  }

  /**
   * Called on every change announced to this process, before its waiters wake (SharedReads
   * drops a read that may predate the change).
   */
  onChange(listener: (taskId: string) => void): void {
    this.changeListeners.push(listener);
  }

  /** Wakes the waiters of this process for `taskId`. */
  notify(taskId: string): void {
    for (const listener of this.changeListeners) listener(taskId);
    const set = this.waiters.get(taskId);
    if (!set) return;
    this.waiters.delete(taskId);
    for (const wake of set) wake(true);
  }

  /** Wakes every waiter of this process (they re-read): changes may have been missed. */
  wakeAll(): void {
    for (const id of [...this.waiters.keys()]) this.notify(id);
  }

  /** Resolves as TaskWatch.changed does, for a wait registered now. */
  next(taskId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.watch(taskId, timeoutMs, signal).changed;
  }

  /** Registers for the next change of the task now; see TaskWatch. */
  watch(taskId: string, timeoutMs: number, signal?: AbortSignal): TaskWatch {
    let cancel = () => {};
    const changed = new Promise<boolean>((resolve) => {
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      const waiters = set;
      const done = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(taskId) === waiters) this.waiters.delete(taskId);
        resolve(notified);
      };
      const aborted = () => done(false);
      const timer = setTimeout(aborted, timeoutMs);
      signal?.addEventListener('abort', aborted, { once: true });
      waiters.add(done);
      cancel = aborted;
      this.tickWhileWaiting();
    });
    return { changed, cancel: () => cancel() };
  }

  /**
   * Over a lossy feed: wakes every waiter each re-read interval (reported as a possible
   * change, so they read again), as long as anyone waits.
   */
  private tickWhileWaiting(): void {
    const rereadMs = this.feed.rereadMs;
    if (rereadMs === undefined || this.rereadTimer) return;
    this.rereadTimer = setInterval(() => {
      if (this.waiters.size > 0) return this.wakeAll();
      clearInterval(this.rereadTimer);
      this.rereadTimer = undefined;
    }, rereadMs);
    this.rereadTimer.unref();
  }

  waiting(taskId: string): number {
    return this.waiters.get(taskId)?.size ?? 0;
  }
}
