/**
 * How "task X changed" reaches the waiters of every gateway instance. The task writer
 * publishes after each visible change it stored; TaskEvents listens and wakes its waiters.
 * One process (memory, SQLite): InProcessChangeFeed. Cluster mode: the Redis feed
 * (store/redis/change-feed.ts) carries it to the other instances.
 */
export interface ChangeListener {
  /** `taskId` changed (on this instance or another). */
  changed(taskId: string): void;
  /** Changes may have been missed (the feed's connection was lost): every waiter re-reads. */
  missed(): void;
}

export interface ChangeFeed {
  /** Tells every listener on every instance, this one included, that `taskId` changed. */
  publish(taskId: string): void;
  subscribe(listener: ChangeListener): void;
  /**
   * A feed that can lose messages (a network between instances) names how often a waiter
   * re-reads anyway, as a safety net; undefined: the feed loses nothing.
   */
  readonly rereadMs?: number;
  close(): Promise<void>;
}

/** The feed of one process: publishing is telling the listeners, at once. */
export class InProcessChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();

  publish(taskId: string): void {
    for (const listener of this.listeners) listener.changed(taskId);
  }

  subscribe(listener: ChangeListener): void {
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
