import type { TenantRecord } from '../../domain/admin-store.js';

/** The longest a kept lookup is used: a safety net should a change message be lost unseen. */
const MAX_AGE_MS = 1000;
/** Kept lookups at most (tenant ids come from keys that authenticated): cleared when full. */
const MAX_ENTRIES = 10_000;

/**
 * Admin-API tenant lookups of one instance, kept while nothing changed them: every create
 * asks for its tenant's budget, and most tenants have no admin record at all (configured
 * tenants), so the answer is almost always the same. Kept only while this instance hears the
 * tenant change channel: each tenant write publishes the tenant's id in the same script
 * (redis-admin.ts), which drops the entry on every instance; the writing instance drops it
 * itself too. Redis sends that message before the write's own answer, so a request that
 * starts after the change was answered finds it. While the subscription is down nothing is
 * kept, and a lookup that was under way when a change arrived is not kept either.
 */
export class TenantCache {
  /** The stored JSON (null: no such tenant) and when it was read. */
  private readonly entries = new Map<string, { json: string | null; at: number }>();
  /** Bumped by every change heard: a lookup that saw it pass keeps nothing. */
  private generation = 0;
  private live = false;

  constructor(private readonly now: () => number = Date.now) {}

  async get(id: string, read: () => Promise<string | null>): Promise<TenantRecord | undefined> {
    const kept = this.live ? this.entries.get(id) : undefined;
    if (kept && this.now() - kept.at < MAX_AGE_MS) return parsed(kept.json);
    const generation = this.generation;
    const json = await read();
    if (this.live && generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(id, { json, at: this.now() });
    }
    return parsed(json);
  }

  /** A change of tenant `id` (heard on the channel, or written here). */
  changed(id: string): void {
    this.generation++;
    this.entries.delete(id);
  }

  /** Whether change messages reach this instance now (off: nothing is kept). */
  listening(live: boolean): void {
    this.live = live;
    this.generation++;
    this.entries.clear();
  }
}

const parsed = (json: string | null) =>
  json === null ? undefined : (JSON.parse(json) as TenantRecord);
