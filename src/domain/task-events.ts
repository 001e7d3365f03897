import { InProcessChangeFeed, type ChangeFeed } from './change-feed.js';

/** A registration for the next change of a task: `changed` settles once; `cancel` drops it. */
export interface TaskWatch {
  /** Resolves on the next change, after the timeout (or the feed's re-read interval), or on abort. */
  changed: Promise<void>;
  cancel(): void;
}

/**
 * Notifications of task changes, so long-polling clients wake up the moment a change is
 * written instead of re-reading the store. A waiter costs one closure and one timer, no CPU
 * while it waits. Changes arrive through a ChangeFeed (in-process by default; Redis pub/sub
 * in cluster mode, so a change written by any instance wakes the waiters of all).
 *
 * Register before reading (`watch`): a change between the read and the wait is then never
 * missed. Over a lossy feed each wait is cut at the feed's re-read interval, so a lost
 * message delays a waiter by at most that.
 */
export class TaskEvents {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly feed: ChangeFeed;

  constructor(feed: ChangeFeed = new InProcessChangeFeed()) {
    this.feed = feed;
    feed.subscribe({ changed: (id) => this.notify(id), missed: () => this.wakeAll() });
  }

  /** A change of the task was stored: wakes its waiters here and on every other instance. */
  publish(taskId: string): void {
    this.feed.publish(taskId);
  }

  /** Wakes the waiters of this process for `taskId`. */
  notify(taskId: string): void {
    const set = this.waiters.get(taskId);
    if (!set) return;
    this.waiters.delete(taskId);
    for (const wake of set) wake();
  }

  /** Wakes every waiter of this process (they re-read): changes may have been missed. */
  wakeAll(): void {
    for (const id of [...this.waiters.keys()]) this.notify(id);
  }

  /** Resolves on the next change of the task, after `timeoutMs`, or when `signal` aborts. */
  next(taskId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.watch(taskId, timeoutMs, signal).changed;
  }

  /** Registers for the next change of the task now; see TaskWatch. */
  watch(taskId: string, timeoutMs: number, signal?: AbortSignal): TaskWatch {
    let cancel = () => {};
    const changed = new Promise<void>((resolve) => {
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(taskId) === waiters) this.waiters.delete(taskId);
        resolve();
      };
      const timer = setTimeout(done, Math.min(timeoutMs, this.feed.rereadMs ?? Infinity));
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
      cancel = done;
    });
    return { changed, cancel: () => cancel() };
  }

  waiting(taskId: string): number {
    return this.waiters.get(taskId)?.size ?? 0;
  }
}
