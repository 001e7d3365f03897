import type { TaskRecord } from './task-record.js';

/** Reads one task from the store (the store's `get`). */
export type ReadTask = (id: string) => Promise<TaskRecord | undefined>;

/**
 * One store read per task for the readers woken together (long-polls, waits and followers
 * alike): a change wakes every waiter of the task at once, and they share the read the first
 * of them starts instead of reading once each.
 *
 * A reader registers for wake-ups before it reads, and joins a read under way only while no
 * change of the task was announced since that read began (`changed` drops it): a change
 * written before the reader registered was then either announced (the reader starts a new
 * read) or is announced later (it wakes the reader again). Readers sharing a read share the
 * record: they must not change it.
 */
export class SharedReads {
  private readonly inFlight = new Map<string, Promise<TaskRecord | undefined>>();

  constructor(private readonly get: ReadTask) {}

  /** A change of the task was announced: a read under way may predate it. */
  changed(id: string): void {
    this.inFlight.delete(id);
  }

  /** The task, from the read under way or a new one; register for wake-ups first. */
  read(id: string): Promise<TaskRecord | undefined> {
    const pending = this.inFlight.get(id);
    if (pending) return pending;
    const record = this.get(id);
    this.inFlight.set(id, record);
    const done = () => {
      if (this.inFlight.get(id) === record) this.inFlight.delete(id);
    };
    record.then(done, done);
    return record;
  }
}
