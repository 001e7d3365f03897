import type Database from 'better-sqlite3';

interface Waiting {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: the writes made in one turn of the event loop share one transaction,
 * committed when the turn ends (setImmediate). Each write's promise settles only after that
 * commit, so an awaited write is still a committed one (a create's task is stored before the
 * upstream is called). Under concurrent requests one commit serves many writes: one lock, one
 * WAL append, and the pages neighbouring rows share (ids are time-ordered) written once.
 * A compare-and-set answer is read inside the transaction, so it holds at the commit. Other
 * statements run while a group is open (claims, idempotency keys) join its transaction.
 */
export class GroupCommit {
  private waiting: Waiting[] | null = null;
  private readonly begin;
  private readonly commit;
  private readonly rollback;

  /** `onRollback`: a failed group undid writes that readers of this handle may have seen. */
  constructor(
    private readonly db: Database.Database,
    private readonly onRollback: () => void = () => {},
  ) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  /** Runs `write` in the open group (opening one if needed); settles after its commit. */
  run<T>(write: () => T): Promise<T> {
    if (this.waiting === null) {
      this.begin.run();
      this.waiting = [];
      setImmediate(() => this.flush());
    }
    const waiting = this.waiting;
    let result: T;
    try {
      result = write();
    } catch (err) {
      // Most failures undo the statement only; a few (I/O, full disk) end the transaction,
      // and with it every write of the group.
      if (!this.db.inTransaction) this.settle(err);
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      waiting.push({ resolve: () => resolve(result), reject });
    });
  }

  /** Commits the open group now (before closing the database). */
  flush(): void {
    if (this.waiting === null) return;
    try {
      this.commit.run();
    } catch (err) {
      if (this.db.inTransaction) this.rollback.run();
      this.settle(err);
      return;
    }
    this.settle();
  }

  private settle(err?: unknown): void {
    const waiting = this.waiting ?? [];
    this.waiting = null;
    if (err !== undefined) this.onRollback();
    for (const w of waiting) {
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }
}
