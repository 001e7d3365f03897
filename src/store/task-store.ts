import type { Operation, TaskStatus } from '../contracts/common.js';
import type { TaskRecord } from '../domain/task-record.js';

/** A page of a tenant's tasks. Deleted tasks (`deletedAt` set) are never listed. */
export interface ListQuery {
  status?: TaskStatus;
  limit: number;
  /** Id of the last task of the previous page (ids sort by creation time). */
  cursor?: string;
  /** Only tasks of these operations (default: all). */
  types?: readonly Operation[];
  /** `desc` (default): newest first, ids below the cursor; `asc`: oldest first, ids above it. */
  order?: 'asc' | 'desc';
}

/** Bytes genway serves at a public, expiring URL (see domain/media-host.ts). */
export interface StoredMedia {
  /** SHA-256 of the URL's token (base64url): the token itself is never stored. */
  id: string;
  contentType: string;
  bytes: Buffer;
  createdAt: number;
  expiresAt: number;
}

/**
 * The one interface the domain sees. Implementations: memory, sqlite (embedded default);
 * every method is async so that a networked store (Redis) fits without touching the domain.
 */
export interface TaskStore {
  insert(task: TaskRecord): Promise<void>;
  get(id: string): Promise<TaskRecord | undefined>;
  /**
   * Writes `task` if the stored version is still `task.version - 1` (compare-and-set).
   * Returns false when someone else wrote in between; the caller re-reads and decides.
   */
  update(task: TaskRecord): Promise<boolean>;
  /** A tenant's tasks, newest first unless `order: 'asc'`; never deleted ones. */
  list(tenant: string, query: ListQuery): Promise<TaskRecord[]>;
  /**
   * Takes up to `limit` tasks whose next poll is due and pushes their next poll `leaseMs`
   * ahead, so that two pollers never poll the same task at once.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]>;
  /** Earliest pending poll time, or null when no task waits for a poll. */
  nextDueAt(): Promise<number | null>;
  /** Like claimDue, for tasks with a webhook attempt due (`nextWebhookAt`). */
  claimDueWebhooks(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]>;
  /** Earliest pending webhook attempt, or null. */
  nextWebhookDueAt(): Promise<number | null>;
  /** Non-terminal tasks per credential id of a provider (to rebuild in-flight counts). */
  countActiveByCredential(provider: string): Promise<Map<string, number>>;
  /** Stores published media (replaces an entry with the same id). */
  putMedia(media: StoredMedia): Promise<void>;
  /** The entry, expired or not (the caller checks `expiresAt`). */
  getMedia(id: string): Promise<StoredMedia | undefined>;
  /** Deletes every entry whose `expiresAt` is at or before `now`; returns how many. */
  purgeMedia(now: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
