/**
 * In-process notifications of task changes, so long-polling clients wake up the moment the
 * poller writes a change instead of re-reading the store. A waiter costs one closure and one
 * timer, no CPU while it waits.
 */
export class TaskEvents {
  private readonly waiters = new Map<string, Set<(notified: boolean) => void>>();

  notify(taskId: string): void {
    const set = this.waiters.get(taskId);
    if (!set) return;
    this.waiters.delete(taskId);
    for (const wake of set) wake(true);
  }

  /**
   * Resolves on the next change of the task (true), or false after `timeoutMs` or when
   * `signal` aborts.
   */
  next(taskId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
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
    });
  }

  waiting(taskId: string): number {
    return this.waiters.get(taskId)?.size ?? 0;
  }
}
