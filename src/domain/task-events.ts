/**
 * In-process notifications of task changes, so long-polling clients wake up the moment the
 * poller writes a change instead of re-reading the store. A waiter costs one closure and one
 * timer, no CPU while it waits.
 */
export class TaskEvents {
  private readonly waiters = new Map<string, Set<() => void>>();

  notify(taskId: string): void {
    const set = this.waiters.get(taskId);
    if (!set) return;
    this.waiters.delete(taskId);
    for (const wake of set) wake();
  }

  /** Resolves on the next change of the task, after `timeoutMs`, or when `signal` aborts. */
  next(taskId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
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
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  waiting(taskId: string): number {
    return this.waiters.get(taskId)?.size ?? 0;
  }
}
