import type { TaskView } from '../domain/task-record.js';

/** Views kept for reuse while their stored text is unchanged (hot tasks read over and over). */
const VIEWS_KEPT = 256;

/**
 * The views of recently read tasks (TaskStore.readView), by task id, with the stored text
 * they were parsed from: a task read again unchanged (the same text and `stamp`, the fields
 * a store keeps beside it) gives the same view without parsing it again, and lets the reader
 * reuse its rendering. Views are shared (never changed). Bounded; the oldest go first.
 */
export class ViewCache {
  private readonly views = new Map<string, { data: string; stamp: string; view: TaskView }>();

  of(id: string, data: string, stamp: string, parse: () => TaskView): TaskView {
    const kept = this.views.get(id);
    if (kept?.data === data && kept.stamp === stamp) return kept.view;
    const view = parse();
    this.keep(id, { data, stamp, view });
    return view;
  }

  /** The view kept for `id`, whatever it was parsed from (a store that knows it is current). */
  kept(id: string): TaskView | undefined {
    return this.views.get(id)?.view;
  }

  /** Keeps a view known to be current until `forget(id)`. */
  keepCurrent(id: string, view: TaskView): void {
    this.keep(id, { data: '', stamp: '', view });
  }

  /** The task was written: its kept view is no longer current. */
  forget(id: string): void {
    this.views.delete(id);
  }

  clear(): void {
    this.views.clear();
  }

  private keep(id: string, entry: { data: string; stamp: string; view: TaskView }): void {
    this.views.delete(id);
    if (this.views.size >= VIEWS_KEPT) this.views.delete(this.views.keys().next().value!);
    this.views.set(id, entry);
  }
}
