/**
 * "Work got a due time": raised by the writer of the work, heard by the loop that does it, so
 * the loop can wake up early instead of at its next idle pass. Created before both, so
 * neither needs the other to exist first.
 */
export class DueSignal {
  private readonly listeners = new Set<(at: number) => void>();

  /** Something is due at `at` (ms since the epoch). */
  raise(at: number): void {
    for (const listener of this.listeners) listener(at);
  }

  /** Calls `listener` on every raise until the returned function is called. */
  listen(listener: (at: number) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}

/** The due times the task writer raises: polls (Poller) and webhook attempts (dispatcher). */
export interface DueSignals {
  polls: DueSignal;
  webhooks: DueSignal;
}

export function createDueSignals(): DueSignals {
  return { polls: new DueSignal(), webhooks: new DueSignal() };
}
