import type { LedgerEntry } from './admin-store.js';
import { fromMicros } from './pricing.js';

export type UsageGroup = 'model' | 'day' | 'key' | 'tenant';

/** One row of a usage answer: the group's key under the name of the grouping. */
export type UsageRow = { [group: string]: string | number | null } & {
  tasks: number;
  succeeded: number;
  failed: number;
  charged_usd: number;
};

const groupOf = (entry: LedgerEntry, by: UsageGroup): string | null => {
  if (by === 'model') return entry.model;
  if (by === 'day') return new Date(entry.at).toISOString().slice(0, 10);
  if (by === 'key') return entry.keyId;
  return entry.tenant;
};

/** Ledger entries summed per group (sorted by group key; keys from the configuration: null). */
export function summarizeUsage(entries: readonly LedgerEntry[], by: UsageGroup): UsageRow[] {
  const groups = new Map<
    string | null,
    { tasks: number; succeeded: number; failed: number; micros: number }
  >();
  for (const entry of entries) {
    const key = groupOf(entry, by);
    const g = groups.get(key) ?? { tasks: 0, succeeded: 0, failed: 0, micros: 0 };
    g.tasks += 1;
    if (entry.status === 'succeeded') g.succeeded += 1;
    if (entry.status === 'failed') g.failed += 1;
    g.micros += entry.chargedMicros;
    groups.set(key, g);
  }
  return [...groups]
    .sort(([a], [b]) => (a ?? '').localeCompare(b ?? ''))
    .map(([key, g]) => ({
      [by]: key,
      tasks: g.tasks,
      succeeded: g.succeeded,
      failed: g.failed,
      charged_usd: fromMicros(g.micros),
    }));
}
