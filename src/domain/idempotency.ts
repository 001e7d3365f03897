import { createHash, randomUUID } from 'node:crypto';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors/catalogue.js';
import { GatewayError, isGatewayError } from '../errors/gateway-error.js';
import type { IdempotencyRecord, IdempotencyScope, StoredCreateError } from './task-store.js';
import type { TaskStore } from './task-store.js';
import type { TaskRecord } from './task-record.js';

/**
 * `Idempotency-Key` on creates (architecture §1): the same key and body give the original
 * answer and never a second upstream job, even when both requests arrive at once.
 *
 * Rules, per key scope (tenant + surface + key; the same key on two surfaces or of two
 * tenants never collides):
 * - The first request claims the key in the task store (atomic insert-or-get), records the
 *   task id before the upstream call, and marks the key completed with its outcome.
 * - Same body (SHA-256 of a canonical JSON of operation and body) after completion: the
 *   original outcome: the same task (as it is now), or the same error if the create failed.
 * - Same body while the first is in progress: waits for it (up to `waitMs`), then the same;
 *   past the wait: 409 `idempotency_key_in_progress` with Retry-After.
 * - Another body: 422 `idempotency_key_reused`, whatever the state.
 * - A create that failed before any task existed (a 4xx on validation, no credential, ...)
 *   never reached an upstream: the key is released, so a corrected retry can use it. Once a
 *   task exists (even a failed one) the key stays bound to it until it expires.
 * - Keys expire `ttlMs` after the first request (IDEMPOTENCY_TTL_SECONDS); then the key is
 *   new again.
 * - A claim whose process died before it recorded a task id (so it sent nothing) is taken
 *   over once IN_PROGRESS_LEASE_MS passed; one that recorded a task id replays that task.
 */

/**
 * The API surface a create came through: each surface passes its own fixed name (the same key
 * on two surfaces is two keys). Stored with the key, so a name never changes once used.
 */
export type IdempotencySurface = string;

export interface IdempotencyRequest {
  surface: IdempotencySurface;
  key: string;
}

export interface IdempotencyPolicy {
  /** How long a key is remembered after its first use. */
  ttlMs: number;
  /** How long a request waits for an in-progress one with the same key before a 409. */
  waitMs: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencyPolicy = { ttlMs: 86_400_000, waitMs: 10_000 };

/** A claim older than this is assumed abandoned (its process died). No create takes that long. */
export const IN_PROGRESS_LEASE_MS = 120_000;
/** Waiters also re-read the store this often (another process may hold the key). */
const RECHECK_MS = 250;
const RETRY_AFTER_MS = 2_000;
const PURGE_EVERY_MS = 10 * 60_000;

/** Keys: 1-255 printable ASCII characters (space to tilde). */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

export function isValidIdempotencyKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

/** Errors that repeat an earlier request's outcome (the HTTP layer marks them replayed). */
const replayedErrors = new WeakSet<object>();

export function isReplayedError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && replayedErrors.has(err);
}

/** JSON with object keys sorted and `undefined` members left out: equal bodies, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** SHA-256 (hex) of the canonical JSON of what a create asks for. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export interface IdempotentOutcome {
  task: TaskRecord;
  /** True when the answer is an earlier request's (header `idempotent-replayed: true`). */
  replayed: boolean;
}

/**
 * Runs a create under an idempotency key. `create` gets `reserve`, which it must await with
 * the task id before it stores the task (so the key names the task before any upstream call).
 */
export type KeyedCreate = (reserve: (taskId: string) => Promise<void>) => Promise<TaskRecord>;

export interface IdempotencyKeysDeps {
  store: TaskStore;
  policy?: Partial<IdempotencyPolicy>;
  now?: () => number;
  /** Reads a task of the tenant for a replay (404 for a deleted one). */
  getTask: (tenant: string, id: string) => Promise<TaskRecord>;
}

export class IdempotencyKeys {
  private readonly policy: IdempotencyPolicy;
  private readonly now: () => number;
  private readonly waiters = new Map<string, Set<() => void>>();
  private lastPurge = 0;

  constructor(private readonly deps: IdempotencyKeysDeps) {
    this.policy = { ...DEFAULT_IDEMPOTENCY, ...deps.policy };
    this.now = deps.now ?? Date.now;
  }

  async run(
    scope: IdempotencyScope,
    fingerprint: string,
    create: KeyedCreate,
  ): Promise<IdempotentOutcome> {
    this.purgeNowAndThen();
    const deadline = this.now() + this.policy.waitMs;
    for (;;) {
      const now = this.now();
      const mine: IdempotencyRecord = {
        ...scope,
        owner: randomUUID(),
        fingerprint,
        state: 'in_progress',
        taskId: null,
        error: null,
        createdAt: now,
        lockedUntil: now + IN_PROGRESS_LEASE_MS,
        expiresAt: now + this.policy.ttlMs,
      };
      const claim = await this.deps.store.claimIdempotencyKey(mine, now);
      if (claim === 'claimed')
        return { task: await this.runClaimed(mine, create), replayed: false };
      if (claim.fingerprint !== fingerprint) {
        throw new GatewayError(
          'idempotency_key_reused',
          'This Idempotency-Key was already used with a different request body (or on another operation); use a new key for a new request',
        );
      }
      if (claim.state === 'completed') return this.replay(claim);
      if (claim.lockedUntil <= now && claim.taskId !== null) {
        // Its process died after recording the task: that task is the answer (if it exists).
        const stale = await this.deps.store.get(claim.taskId);
        if (stale) return this.replay(claim);
        // It died before storing the task: nothing was sent; free the key and claim again.
        await this.deps.store.releaseIdempotencyKey(claim, claim.owner);
        continue;
      }
      const left = deadline - now;
      if (left <= 0) {
        throw new GatewayError(
          'idempotency_key_in_progress',
          'A request with this Idempotency-Key is still being processed; retry after the Retry-After delay to get its result',
          { retryAfterMs: RETRY_AFTER_MS },
        );
      }
      await this.waitForChange(scopeId(scope), Math.min(left, RECHECK_MS));
    }
  }

  private async runClaimed(mine: IdempotencyRecord, create: KeyedCreate): Promise<TaskRecord> {
    let taskId: string | null = null;
    try {
      let task: TaskRecord;
      try {
        task = await create(async (id) => {
          taskId = id;
          if (!(await this.deps.store.updateIdempotencyKey({ ...mine, taskId: id }))) {
            throw new GatewayError(
              'idempotency_key_in_progress',
              'Another request took over this Idempotency-Key; retry to get its result',
              { retryAfterMs: RETRY_AFTER_MS },
            );
          }
        });
      } catch (err) {
        await this.settleFailure(mine, taskId, err);
        throw err;
      }
      await this.deps.store.updateIdempotencyKey({ ...mine, taskId: task.id, state: 'completed' });
      return task;
    } finally {
      this.notify(scopeId(mine));
    }
  }

  /**
   * A failed keyed create: once its task was stored the upstream may have been called, so the
   * key keeps the failure (replayed from then on); with no task, nothing was sent and the key
   * is released, so a corrected retry can use it.
   */
  private async settleFailure(
    mine: IdempotencyRecord,
    taskId: string | null,
    err: unknown,
  ): Promise<void> {
    const stored = taskId === null ? undefined : await this.deps.store.get(taskId);
    if (stored) {
      await this.deps.store.updateIdempotencyKey({
        ...mine,
        taskId: stored.id,
        state: 'completed',
        error: storedErrorOf(err),
      });
    } else {
      await this.deps.store.releaseIdempotencyKey(mine, mine.owner);
    }
  }

  /** The original outcome: the same error, or the task as it is now. */
  private async replay(record: IdempotencyRecord): Promise<IdempotentOutcome> {
    if (record.error) {
      const code: ErrorCode =
        record.error.code in ERROR_CATALOGUE ? (record.error.code as ErrorCode) : 'upstream_error';
      const errors = record.error.errors;
      const replayed = new GatewayError(code, record.error.message, errors ? { errors } : {});
      replayedErrors.add(replayed);
      throw replayed;
    }
    if (record.taskId === null) throw new GatewayError('internal', 'Idempotency key without task');
    return { task: await this.deps.getTask(record.tenant, record.taskId), replayed: true };
  }

  private waitForChange(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(id) === waiters) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.add(done);
    });
  }

  private notify(id: string): void {
    const set = this.waiters.get(id);
    if (!set) return;
    this.waiters.delete(id);
    for (const wake of set) wake();
  }

  /** Expired keys are deleted now and then, on the way (claims ignore them anyway). */
  private purgeNowAndThen(): void {
    const now = this.now();
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    this.deps.store.purgeIdempotencyKeys(now).catch(() => {
      // Best effort: an expired key is treated as absent whether or not it was deleted.
    });
  }
}

const scopeId = (s: IdempotencyScope) => `${s.tenant}\n${s.surface}\n${s.key}`;

function storedErrorOf(err: unknown): StoredCreateError {
  if (!isGatewayError(err)) {
    return { code: 'internal', message: 'An unexpected error occurred while creating the task' };
  }
  return { code: err.code, message: err.message, ...(err.errors ? { errors: err.errors } : {}) };
}
