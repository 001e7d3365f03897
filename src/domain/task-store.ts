import type { Operation, TaskStatus } from '../contracts/common.js';
import type { AdminStore, LedgerEntry } from './admin-store.js';
import type { TaskRecord, TaskView } from './task-record.js';

/**
 * Thrown by a store that cannot answer right now (a networked store whose server is down,
 * unreachable or too slow): the request that needed it answers 503 `store_unavailable`, and
 * the process keeps running.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(`store unavailable: ${message}`, options);
    this.name = 'StoreUnavailableError';
  }
}

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

/** One row of `TaskStore.countByStatus`. */
export interface TaskCount {
  provider: string;
  status: TaskStatus;
  count: number;
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

/** A file a tenant uploaded (a compatible surface's `POST .../files`), with its bytes. */
export interface StoredFile {
  /** `file_<ULID>`: ids sort by creation time. */
  id: string;
  tenant: string;
  filename: string;
  contentType: string;
  size: number;
  /** SHA-256 of the bytes, hex. */
  sha256: string;
  /** The uploader's metadata (a small JSON object), answered back as given. */
  metadata: Record<string, unknown>;
  createdAt: number;
  expiresAt: number;
  bytes: Buffer;
}

/** A stored file without its bytes (what listings return). */
export type StoredFileInfo = Omit<StoredFile, 'bytes'>;

/** Where an Idempotency-Key lives: the same key of another tenant or surface is another key. */
export interface IdempotencyScope {
  tenant: string;
  /** The name of the API surface the key came through (each surface passes its own). */
  surface: string;
  key: string;
}

/** The error a keyed create ended with, replayed to later requests with the same key. */
export interface StoredCreateError {
  code: string;
  message: string;
  errors?: { path: string; message: string }[];
}

/** One Idempotency-Key (see domain/idempotency.ts). */
export interface IdempotencyRecord extends IdempotencyScope {
  /** Random id of the request holding the claim; updates and releases must match it. */
  owner: string;
  /** SHA-256 of the canonical request (operation and body). */
  fingerprint: string;
  state: 'in_progress' | 'completed';
  /** The task, once the claim holder stored it (before any upstream call). */
  taskId: string | null;
  /** Set when the create failed after its task existed: later requests get this error. */
  error: StoredCreateError | null;
  createdAt: number;
  /** An `in_progress` claim without a task past this time is abandoned and may be taken over. */
  lockedUntil: number;
  /** From then on the key is unknown again. */
  expiresAt: number;
}

/**
 * What `updateAndSettle` did: `updated` as `update` answers; with it, the settlement's answer
 * (`settled`, false when the task was settled already) or the error that undid the settlement
 * alone (the write stands; the reservation purge settles the task later).
 */
export type UpdateAndSettle =
  | { updated: false }
  | { updated: true; settled: boolean }
  | { updated: true; settleError: unknown };

/**
 * The one interface the domain sees. Implementations: memory, sqlite (embedded default);
 * every method is async so that a networked store (Redis) fits without touching the domain.
 */
export interface TaskStore {
  /** Tenants, keys, budgets and the usage ledger, kept in the same store (architecture §8). */
  readonly admin: AdminStore;
  insert(task: TaskRecord): Promise<void>;
  /**
   * Cluster mode (slots shared between instances, see shared-slots.ts): inserts the task only
   * if its credential holds fewer than `cap` slots (unfinished tasks and live reservations)
   * over every instance, atomically, so that the insert itself takes the slot: one round trip
   * where a reservation then an insert take two. false: the credential is full, nothing was
   * stored. Optional: stores without shared slots leave it out.
   */
  insertWithinCap?(task: TaskRecord, cap: number): Promise<boolean>;
  get(id: string): Promise<TaskRecord | undefined>;
  /**
   * The task as a read renders it, for stores that can skip what reads never show (the change
   * history, webhook message bodies). The view may be shared with other readers: callers never
   * change it. Optional: `get` serves instead.
   */
  readView?(id: string): Promise<TaskView | undefined>;
  /**
   * Writes `task` if the stored version is still `task.version - 1` (compare-and-set).
   * Returns false when someone else wrote in between; the caller re-reads and decides.
   * A task keeps the tenant it was inserted with: stores may leave that field unwritten.
   */
  update(task: TaskRecord): Promise<boolean>;
  /**
   * `update` of a write that finishes the task, with its settlement (`AdminStore.settle` of
   * `entry`) in the same commit, made only when the compare-and-set wins: one commit where
   * there would be two. Optional: the writer settles after the update instead.
   */
  updateAndSettle?(task: TaskRecord, entry: LedgerEntry): Promise<UpdateAndSettle>;
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
  /**
   * The task of `provider` whose upstream job is `upstreamId` (the newest if several), for
   * upstream callbacks that name only the upstream job. Deleted tasks included.
   */
  findByUpstreamId(provider: string, upstreamId: string): Promise<TaskRecord | undefined>;
  /**
   * How many tasks each provider has in each status (deleted ones included), for the
   * `genway_tasks` gauge at scrape time. Optional: a store without it exports no such gauge.
   */
  countByStatus?(): Promise<TaskCount[]>;
  /** Webhook deliveries still `pending`, over all tasks (`genway_webhook_backlog`). Optional. */
  countPendingWebhooks?(): Promise<number>;
  /** Stores published media (replaces an entry with the same id). */
  putMedia(media: StoredMedia): Promise<void>;
  /** The entry, expired or not (the caller checks `expiresAt`). */
  getMedia(id: string): Promise<StoredMedia | undefined>;
  /** Deletes every entry whose `expiresAt` is at or before `now`; returns how many. */
  purgeMedia(now: number): Promise<number>;
  /** Stores an uploaded file (a new id). */
  putFile(file: StoredFile): Promise<void>;
  /** The file with its bytes, expired or not (the caller checks `expiresAt`). */
  getFile(id: string): Promise<StoredFile | undefined>;
  /**
   * A tenant's files without their bytes, newest first, ids below `cursor`; expired ones may be
   * included until purged (the caller filters them).
   */
  listFiles(tenant: string, query: { limit: number; cursor?: string }): Promise<StoredFileInfo[]>;
  /** Deletes the file; false when there was none. */
  deleteFile(id: string): Promise<boolean>;
  /** Deletes every file whose `expiresAt` is at or before `now`; returns how many. */
  purgeFiles(now: number): Promise<number>;
  /**
   * Atomic insert-or-get of an Idempotency-Key: stores `record` unless its scope holds a live
   * key (an expired one, or an abandoned `in_progress` claim without a task, is replaced).
   * Returns 'claimed' when `record` is now stored, else the key that is.
   */
  claimIdempotencyKey(
    record: IdempotencyRecord,
    now: number,
  ): Promise<'claimed' | IdempotencyRecord>;
  /** Writes `record` over the stored key if `record.owner` still holds it; false otherwise. */
  updateIdempotencyKey(record: IdempotencyRecord): Promise<boolean>;
  getIdempotencyKey(scope: IdempotencyScope): Promise<IdempotencyRecord | undefined>;
  /** Deletes the key if `owner` holds it (a create that stored no task frees its key). */
  releaseIdempotencyKey(scope: IdempotencyScope, owner: string): Promise<void>;
  /** Deletes every key whose `expiresAt` is at or before `now`; returns how many. */
  purgeIdempotencyKeys(now: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
