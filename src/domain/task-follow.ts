import type { Task } from '../contracts/task.js';
import { SharedReads, type ReadTask } from './shared-reads.js';
import type { TaskEvents } from './task-events.js';
import {
  isTerminal,
  isVisibleTo,
  outputLinksKey,
  toPublicTask,
  type OutputLinks,
  type TaskChange,
  type TaskRecord,
} from './task-record.js';

/** One change a follower is told about, numbered as the task's change history is. */
export interface FollowedChange {
  /** The task's change number (`changeSeq`), strictly increasing by 1 per change. */
  seq: number;
  /** `task.status`: the status changed (also the first change told); `task.progress`: only progress. */
  kind: 'task.status' | 'task.progress';
  /** The public task as of that change. */
  task: Task;
}

/** What a follower learns at one wake-up. */
export interface FollowUpdate {
  /** Changes since the last update, in order; empty when nothing changed. */
  changes: readonly FollowedChange[];
  /**
   * Nothing was told for `quietMs`: the follower may say so (a heartbeat) before `changes`.
   */
  quiet: boolean;
}

/**
 * Following a task: either nothing more will come (the follower already saw the final change
 * of a finished task), or a stream of updates that ends after a terminal status.
 */
export type TaskFollow =
  { finished: true } | { finished: false; updates: AsyncIterable<FollowUpdate> };

export interface FollowOptions {
  /** Ends the updates (the follower left). */
  signal: AbortSignal;
  /** After this long without anything told, an update says `quiet`. */
  quietMs: number;
  /** Links to stored outputs for this follower (made fresh for each change told). */
  links?: OutputLinks;
}

/**
 * A follower woken by its timer alone (a heartbeat) does not read the store, except once in
 * this long: a change written by another process sends no in-process notification.
 */
export const QUIET_REREAD_MS = 60_000;

/**
 * Followers of tasks, waking on the in-process change notifications (one waiter and one
 * timer each); the store is read only when woken, and followers woken together share the read.
 */
export class TaskFollowers {
  private readonly reads: SharedReads;

  /** `reads`: shared with the other readers of the process (or the store's `get`). */
  constructor(
    reads: SharedReads | ReadTask,
    private readonly events: TaskEvents,
  ) {
    if (reads instanceof SharedReads) this.reads = reads;
    else {
      this.reads = new SharedReads(reads);
      events.onChange((id) => this.reads.changed(id));
    }
  }

  /**
   * `task`, already checked as visible to `tenant`, followed from after change `lastSeq`
   * (undefined: from its current state).
   */
  follow(task: TaskRecord, lastSeq: number | undefined, options: FollowOptions): TaskFollow {
    if (lastSeq !== undefined && lastSeq === task.changeSeq && isTerminal(task.status)) {
      return { finished: true };
    }
    return { finished: false, updates: this.updates(task.tenant, task.id, lastSeq, options) };
  }

  private async *updates(
    tenant: string,
    id: string,
    resumeAfter: number | undefined,
    { signal, quietMs, links }: FollowOptions,
  ): AsyncGenerator<FollowUpdate> {
    // Registered before each read of the task, so that a change in between wakes us.
    const listen = (timeoutMs: number) => this.events.next(id, timeoutMs, signal);
    // Deleted (or, impossibly, another tenant's) since following began: nothing more to say.
    const current = async () => {
      const record = await this.reads.read(id);
      return isVisibleTo(record, tenant) ? record : undefined;
    };
    let lastTold = Date.now();
    let wake = listen(quietMs);
    let task = await current();
    let readAt = Date.now();
    if (!task) return;
    // A number from the future (another task's, a typo) counts as none: the current state.
    let lastSeq = resumeAfter !== undefined && resumeAfter <= task.changeSeq ? resumeAfter : -1;
    let quiet = false;
    for (let first = true; ; first = false) {
      const changes = changesSince(task, lastSeq, links);
      if (first || quiet || changes.length > 0) {
        yield { changes, quiet };
        lastTold = Date.now();
      }
      lastSeq = changes.at(-1)?.seq ?? lastSeq;
      if (isTerminal(task.status) || signal.aborted) return;
      const notified = await wake;
      if (signal.aborted) return;
      quiet = Date.now() - lastTold >= quietMs - 5;
      // A quiet update is told now (so it counts from here), before the re-read.
      const toldAt = quiet ? Date.now() : lastTold;
      wake = listen(Math.max(1, quietMs - (Date.now() - toldAt)));
      if (!notified && Date.now() - readAt < QUIET_REREAD_MS) continue;
      const fresh = await current();
      readAt = Date.now();
      if (!fresh) {
        if (quiet) yield { changes: [], quiet };
        return;
      }
      task = fresh;
    }
  }
}

const computed = new WeakMap<TaskRecord, Map<string, FollowedChange[]>>();

/**
 * The changes a follower that last saw change `lastSeq` (-1: none) still needs: every later
 * change from the task's history, or the current state alone when the history no longer
 * reaches back that far (or on a first look). Followers sharing a read share the result when
 * their links to stored outputs are the same (the same origin, within one link expiry step).
 */
export function changesSince(
  task: TaskRecord,
  lastSeq: number,
  links?: OutputLinks,
): readonly FollowedChange[] {
  if (lastSeq >= 0 && task.changeSeq <= lastSeq) return [];
  const key = `${lastSeq}\n${outputLinksKey(task, links)}`;
  let byKey = computed.get(task);
  if (!byKey) computed.set(task, (byKey = new Map()));
  let changes = byKey.get(key);
  if (!changes) byKey.set(key, (changes = computeChangesSince(task, lastSeq, links)));
  return changes;
}

function computeChangesSince(
  task: TaskRecord,
  lastSeq: number,
  links?: OutputLinks,
): FollowedChange[] {
  const history = task.changes;
  const oldest = history[0];
  const covered = lastSeq >= 0 && oldest !== undefined && oldest.seq <= lastSeq + 1;
  if (!covered) {
    return [{ seq: task.changeSeq, kind: 'task.status', task: toPublicTask(task, links) }];
  }
  const changes: FollowedChange[] = [];
  let prev: TaskChange | undefined;
  for (const change of history) {
    if (change.seq > lastSeq) {
      const kind = !prev || prev.status !== change.status ? 'task.status' : 'task.progress';
      const data = change.seq === task.changeSeq ? toPublicTask(task, links) : asOf(task, change);
      changes.push({ seq: change.seq, kind, task: data });
    }
    prev = change;
  }
  return changes;
}

/** The task as of an earlier change (not the last one, so never terminal). */
function asOf(task: TaskRecord, change: TaskChange): Task {
  return {
    ...toPublicTask(task),
    status: change.status,
    progress: change.progress,
    outputs: [],
    error: null,
    updated_at: new Date(change.at).toISOString(),
    completed_at: null,
  };
}
