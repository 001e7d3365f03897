import { MemoryAdminStore } from './admin/memory-admin.js';
import type { TaskRecord } from '../domain/task-record.js';
import { isTerminal } from '../domain/task-record.js';
import type * as port from '../domain/task-store.js';

/** How much the memory store keeps of finished tasks (MEMORY_STORE_MAX_FINISHED_TASKS, …). */
export interface MemoryStoreLimits {
  /** Finished tasks kept; beyond it the task that finished first is dropped. */
  maxFinishedTasks: number;
  /** How long a finished task is kept after it finished. */
  finishedRetentionMs: number;
}

/**
 * In-process store (`memory:`), for tests and throwaway runs. Records are copied in and out.
 * It bounds itself with `limits` (the app passes the configured ones; none: unbounded):
 * finished tasks (terminal, no webhook delivery pending) beyond the cap or older than the
 * retention are dropped, oldest first; tasks still in progress are always kept.
 */
export class MemoryTaskStore implements port.TaskStore {
  readonly admin = new MemoryAdminStore();
  private readonly tasks = new Map<string, TaskRecord>();
  /** Finished task ids → when they finished here, in that order (oldest first). */
  private readonly finished = new Map<string, number>();
  private readonly media = new Map<string, port.StoredMedia>();
  private readonly files = new Map<string, port.StoredFile>();
  private readonly idempotency = new Map<string, port.IdempotencyRecord>();

  constructor(
    private readonly limits?: MemoryStoreLimits,
    private readonly now: () => number = Date.now,
  ) {}

  async insert(task: TaskRecord): Promise<void> {
    if (this.tasks.has(task.id)) throw new Error(`task ${task.id} exists`);
    this.tasks.set(task.id, structuredClone(task));
    this.track(task);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const t = this.tasks.get(id);
    return t && structuredClone(t);
  }

  async update(task: TaskRecord): Promise<boolean> {
    const current = this.tasks.get(task.id);
    if (!current || current.version !== task.version - 1) return false;
    this.tasks.set(task.id, structuredClone(task));
    this.track(task);
    return true;
  }

  /** Notes whether `task` is finished, then drops finished tasks past the limits. */
  private track(task: TaskRecord): void {
    if (!this.limits) return;
    if (!isTerminal(task.status) || task.nextWebhookAt != null) {
      this.finished.delete(task.id);
      return;
    }
    if (!this.finished.has(task.id)) this.finished.set(task.id, this.now());
    const keptSince = this.now() - this.limits.finishedRetentionMs;
    for (const [id, at] of this.finished) {
      if (this.finished.size <= this.limits.maxFinishedTasks && at > keptSince) break;
      this.finished.delete(id);
      this.tasks.delete(id);
    }
  }

  async list(tenant: string, q: port.ListQuery): Promise<TaskRecord[]> {
    const out: TaskRecord[] = [];
    const asc = q.order === 'asc';
    const ids = [...this.tasks.keys()].sort();
    if (!asc) ids.reverse();
    for (const id of ids) {
      if (q.cursor && (asc ? id <= q.cursor : id >= q.cursor)) continue;
      const t = this.tasks.get(id)!;
      if (t.tenant !== tenant || (q.status && t.status !== q.status) || t.deletedAt) continue;
      if (q.types && !q.types.includes(t.type)) continue;
      out.push(structuredClone(t));
      if (out.length >= q.limit) break;
    }
    return out;
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    const due = [...this.tasks.values()]
      .filter((t) => t.nextPollAt !== null && t.nextPollAt <= now)
      .sort((a, b) => a.nextPollAt! - b.nextPollAt!)
      .slice(0, limit);
    return due.map((t) => {
      t.nextPollAt = now + leaseMs;
      t.version += 1;
      return structuredClone(t);
    });
  }

  async claimDueWebhooks(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    const due = [...this.tasks.values()]
      .filter((t) => t.nextWebhookAt != null && t.nextWebhookAt <= now)
      .sort((a, b) => a.nextWebhookAt! - b.nextWebhookAt!)
      .slice(0, limit);
    return due.map((t) => {
      t.nextWebhookAt = now + leaseMs;
      t.version += 1;
      return structuredClone(t);
    });
  }

  async nextWebhookDueAt(): Promise<number | null> {
    let min: number | null = null;
    for (const t of this.tasks.values()) {
      if (t.nextWebhookAt != null && (min === null || t.nextWebhookAt < min)) min = t.nextWebhookAt;
    }
    return min;
  }

  async nextDueAt(): Promise<number | null> {
    let min: number | null = null;
    for (const t of this.tasks.values()) {
      if (t.nextPollAt !== null && (min === null || t.nextPollAt < min)) min = t.nextPollAt;
    }
    return min;
  }

  async findByUpstreamId(provider: string, upstreamId: string): Promise<TaskRecord | undefined> {
    let found: TaskRecord | undefined;
    for (const t of this.tasks.values()) {
      if (t.provider === provider && t.upstreamId === upstreamId && (!found || t.id > found.id))
        found = t;
    }
    return found && structuredClone(found);
  }

  async countActiveByCredential(provider: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const t of this.tasks.values()) {
      if (t.provider === provider && !isTerminal(t.status)) {
        counts.set(t.credentialId, (counts.get(t.credentialId) ?? 0) + 1);
      }
    }
    return counts;
  }

  async countByStatus(): Promise<port.TaskCount[]> {
    const counts = new Map<string, port.TaskCount>();
    for (const t of this.tasks.values()) {
      const key = `${t.provider}\u0000${t.status}`;
      const row = counts.get(key);
      if (row) row.count++;
      else counts.set(key, { provider: t.provider, status: t.status, count: 1 });
    }
    return [...counts.values()];
  }

  async countPendingWebhooks(): Promise<number> {
    let n = 0;
    for (const t of this.tasks.values()) {
      for (const d of t.webhook?.deliveries ?? []) if (d.status === 'pending') n++;
    }
    return n;
  }

  async putMedia(media: port.StoredMedia): Promise<void> {
    this.media.set(media.id, { ...media, bytes: Buffer.from(media.bytes) });
  }

  async getMedia(id: string): Promise<port.StoredMedia | undefined> {
    const m = this.media.get(id);
    return m && { ...m };
  }

  async putFile(file: port.StoredFile): Promise<void> {
    this.files.set(file.id, { ...file, bytes: Buffer.from(file.bytes) });
  }

  async getFile(id: string): Promise<port.StoredFile | undefined> {
    const f = this.files.get(id);
    return f && { ...f, bytes: Buffer.from(f.bytes) };
  }

  async listFiles(
    tenant: string,
    query: { limit: number; cursor?: string },
  ): Promise<port.StoredFileInfo[]> {
    return [...this.files.values()]
      .filter((f) => f.tenant === tenant && (query.cursor === undefined || f.id < query.cursor))
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, query.limit)
      .map(({ bytes: _bytes, ...info }) => ({ ...info }));
  }

  async deleteFile(id: string): Promise<boolean> {
    return this.files.delete(id);
  }

  async purgeFiles(now: number): Promise<number> {
    let n = 0;
    for (const [id, f] of this.files) {
      if (f.expiresAt <= now) {
        this.files.delete(id);
        n++;
      }
    }
    return n;
  }

  async purgeMedia(now: number): Promise<number> {
    let n = 0;
    for (const [id, m] of this.media) {
      if (m.expiresAt <= now) {
        this.media.delete(id);
        n++;
      }
    }
    return n;
  }

  async claimIdempotencyKey(
    record: port.IdempotencyRecord,
    now: number,
  ): Promise<'claimed' | port.IdempotencyRecord> {
    const id = idempotencyId(record);
    const held = this.idempotency.get(id);
    const abandoned =
      held?.state === 'in_progress' && held.taskId === null && held.lockedUntil <= now;
    if (held && held.expiresAt > now && !abandoned) return structuredClone(held);
    this.idempotency.set(id, structuredClone(record));
    return 'claimed';
  }

  async updateIdempotencyKey(record: port.IdempotencyRecord): Promise<boolean> {
    const id = idempotencyId(record);
    if (this.idempotency.get(id)?.owner !== record.owner) return false;
    this.idempotency.set(id, structuredClone(record));
    return true;
  }

  async getIdempotencyKey(
    scope: port.IdempotencyScope,
  ): Promise<port.IdempotencyRecord | undefined> {
    const r = this.idempotency.get(idempotencyId(scope));
    return r && structuredClone(r);
  }

  async releaseIdempotencyKey(scope: port.IdempotencyScope, owner: string): Promise<void> {
    const id = idempotencyId(scope);
    if (this.idempotency.get(id)?.owner === owner) this.idempotency.delete(id);
  }

  async purgeIdempotencyKeys(now: number): Promise<number> {
    let n = 0;
    for (const [id, r] of this.idempotency) {
      if (r.expiresAt <= now) {
        this.idempotency.delete(id);
        n++;
      }
    }
    return n;
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

const idempotencyId = (s: port.IdempotencyScope) => `${s.tenant}\u0000${s.surface}\u0000${s.key}`;
