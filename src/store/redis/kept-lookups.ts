/** The longest a kept lookup is used: a safety net should a change message be lost unseen. */
const MAX_AGE_MS = 1000;
/** Kept lookups at most (ids come from keys that authenticated): cleared when full. */
const MAX_ENTRIES = 10_000;

/**
 * Admin-API lookups of one instance (tenants by id, gateway keys by hash), kept while nothing
 * changed them: every create asks for its tenant's budget and every request with an admin-API
 * key for that key, and the answer is almost always the same. Kept only while this instance
 * hears the change channel: each write publishes what it changed in the same script
 * (redis-admin.ts), which drops the entry on every instance; the writing instance drops it
 * itself too. Redis sends that message before the write's own answer, so a request that
 * starts after the change was answered finds it. While the subscription is down nothing is
 * kept, and a lookup that was under way when a change arrived is not kept either.
 */
export class KeptLookups<T> {
  /** The stored JSON (null: none stored) and when it was read. */
  private readonly entries = new Map<string, { json: string | null; at: number }>();
  /** Bumped by every change heard: a lookup that saw it pass keeps nothing. */
  private generation = 0;
  private live = false;

  /**
   * `keepMissing`: also keep "none stored" (tenants: most have no admin record; not keys, where
   * a wrong key must not take a place and a new key is not announced).
   */
  constructor(
    private readonly keepMissing: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  async get(id: string, read: () => Promise<string | null>): Promise<T | undefined> {
    const kept = this.live ? this.entries.get(id) : undefined;
    if (kept && this.now() - kept.at < MAX_AGE_MS) return parsed<T>(kept.json);
    const generation = this.generation;
    const json = await read();
    if (this.live && generation === this.generation && (json !== null || this.keepMissing)) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(id, { json, at: this.now() });
    }
    return parsed<T>(json);
  }

  /** A change of `id` (heard on the channel, or written here). */
  changed(id: string): void {
    this.generation++;
    this.entries.delete(id);
  }

  /** A change written here whose ids this instance does not know (a key revoked by its id). */
  changedAll(): void {
    this.generation++;
    this.entries.clear();
  }

  /** Whether change messages reach this instance now (off: nothing is kept). */
  listening(live: boolean): void {
    this.live = live;
    this.changedAll();
  }
}

const parsed = <T>(json: string | null) => (json === null ? undefined : (JSON.parse(json) as T));
