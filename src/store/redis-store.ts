import type { Redis } from 'ioredis';
import type { TaskStatus } from '../contracts/common.js';
import type { LedgerEntry } from '../domain/admin-store.js';
import type { TaskRecord, TaskView } from '../domain/task-record.js';
import type * as port from '../domain/task-store.js';
import { RedisAdminStore } from './admin/redis-admin.js';
import type { StoreCoordination } from './coordination.js';
import { RedisConnection, type RedisConnectionOptions } from './redis/connection.js';
import { redisCoordination, type RedisCoordinationOptions } from './redis/coordination.js';
import { RedisFiles } from './redis/files.js';
import { RedisKeys, idempotencyMember } from './redis/keys.js';
import { TASK_FIELDS, withStoreScripts, type StoreScripts } from './redis/scripts.js';
import { ViewCache } from './view-cache.js';

export { StoreUnavailableError } from '../domain/task-store.js';

export interface RedisStoreOptions extends RedisConnectionOptions {
  /** Every key starts with `<keyPrefix>{gw}:` (REDIS_KEY_PREFIX, default `genway:`). */
  keyPrefix?: string;
}

/** Entries purged per script call: a long purge never blocks Redis for long. */
const PURGE_BATCH = 500;
/** Ids read per round trip while listing with a type filter (rows may be skipped). */
const LIST_BATCH = 100;

/** The hash fields a record is read from: the JSON, then the fields that change without it. */
const READ_FIELDS = ['data', 'v', 'poll', 'hook'] as const;

const timeOrEmpty = (at: number | null | undefined) => (at == null ? '' : String(at));
const timeOrNull = (at: string | null | undefined) => (at ? Number(at) : null);

type Field = string | null | undefined;

/** A record from its JSON and the hot fields a claim may have changed since that JSON was written. */
function recordOf(data: Field, version: Field, poll: Field, hook: Field): TaskRecord | undefined {
  if (data == null) return undefined;
  const task = JSON.parse(data) as TaskRecord;
  task.version = Number(version);
  task.nextPollAt = timeOrNull(poll);
  task.nextWebhookAt = timeOrNull(hook);
  return task;
}

/** Insert/update ARGV after the key base: id, version, JSON, then the indexed fields. */
function taskArgs(task: TaskRecord): string[] {
  const pending = task.webhook?.deliveries.filter((d) => d.status === 'pending').length ?? 0;
  const fields: Record<(typeof TASK_FIELDS)[number], string> = {
    tenant: task.tenant,
    provider: task.provider,
    cred: task.credentialId,
    status: task.status,
    type: task.type,
    up: task.upstreamId ?? '',
    poll: timeOrEmpty(task.nextPollAt),
    hook: timeOrEmpty(task.nextWebhookAt),
    del: task.deletedAt != null ? '1' : '',
    pend: String(pending),
  };
  return [
    task.id,
    String(task.version),
    JSON.stringify(task),
    ...TASK_FIELDS.map((f) => fields[f]),
  ];
}

function idempotencyArgs(record: port.IdempotencyRecord): string[] {
  return [
    record.owner,
    record.state,
    record.taskId ?? '',
    String(record.lockedUntil),
    String(record.expiresAt),
    JSON.stringify(record),
  ];
}

/**
 * Networked store (`redis://`, `rediss://`) for cluster mode: several genway instances share
 * it. Layout in redis/keys.ts; every write that must be atomic is one Lua script
 * (redis/scripts.ts) with the task version as fencing token. Reads are plain commands.
 */
export class RedisTaskStore implements port.TaskStore {
  readonly admin: RedisAdminStore;
  private readonly connection: RedisConnection;
  private readonly redis: Redis & StoreScripts;
  private readonly keys: RedisKeys;
  private readonly files: RedisFiles;
  private readonly views = new ViewCache();

  constructor(
    private readonly url: string,
    options: RedisStoreOptions = {},
  ) {
    this.keys = new RedisKeys(options.keyPrefix ?? 'genway:');
    this.connection = new RedisConnection(url, options);
    this.redis = withStoreScripts(this.connection.client);
    this.admin = new RedisAdminStore(this.connection, this.connection.client, this.keys.base);
    this.files = new RedisFiles(this.redis, this.connection, this.keys.base);
  }

  private get base(): string {
    return this.keys.base;
  }

  async insert(task: TaskRecord): Promise<void> {
    try {
      await this.connection.run(() =>
        this.redis.gwInsertTask(this.keys.task(task.id), this.base, ...taskArgs(task)),
      );
    } catch (err) {
      if (err instanceof Error && err.message.includes('task exists')) {
        throw new Error(`task ${task.id} exists`, { cause: err });
      }
      throw err;
    }
  }

  async insertWithinCap(task: TaskRecord, cap: number): Promise<boolean> {
    const key = this.keys.task(task.id);
    const inserted = await this.connection.run(() =>
      this.redis.gwInsertWithinCap(key, this.base, ...taskArgs(task), cap),
    );
    return inserted === 1;
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const [data, v, poll, hook] = await this.connection.run(() =>
      this.redis.hmget(this.keys.task(id), ...READ_FIELDS),
    );
    return recordOf(data, v, poll, hook);
  }

  /** The record (this store keeps no part apart), reused while its hash is unchanged. */
  async readView(id: string): Promise<TaskView | undefined> {
    const [data, v, poll, hook] = await this.connection.run(() =>
      this.redis.hmget(this.keys.task(id), ...READ_FIELDS),
    );
    if (data == null) return undefined;
    return this.views.of(id, data, `${v} ${poll} ${hook}`, () => recordOf(data, v, poll, hook)!);
  }

  async update(task: TaskRecord): Promise<boolean> {
    const written = await this.connection.run(() =>
      this.redis.gwUpdateTask(this.keys.task(task.id), this.base, ...taskArgs(task)),
    );
    return written === 1;
  }

  /** One script: the update and, when it is written, the settlement (never one alone). */
  async updateAndSettle(task: TaskRecord, entry: LedgerEntry): Promise<port.UpdateAndSettle> {
    const [written, settled] = await this.connection.run(() =>
      this.redis.gwUpdateAndSettle(
        this.keys.task(task.id),
        this.base,
        ...taskArgs(task),
        entry.tenant,
        String(entry.at),
        String(entry.chargedMicros),
        JSON.stringify(entry),
      ),
    );
    return written === 1 ? { updated: true, settled: settled === 1 } : { updated: false };
  }

  async list(tenant: string, q: port.ListQuery): Promise<TaskRecord[]> {
    const types = q.types && new Set<string>(q.types);
    if (q.limit <= 0 || types?.size === 0) return [];
    const key = this.keys.list(tenant, q.status);
    const asc = q.order === 'asc';
    const batch = types ? Math.max(q.limit, LIST_BATCH) : q.limit;
    const out: TaskRecord[] = [];
    let cursor = q.cursor;
    for (;;) {
      const from = cursor ? `(${cursor}` : asc ? '-' : '+';
      const to = asc ? '+' : '-';
      const range = asc ? [from, to, 'BYLEX'] : [from, to, 'BYLEX', 'REV'];
      const ids = (await this.connection.run(() =>
        this.redis.call('ZRANGE', key, ...range, 'LIMIT', 0, batch),
      )) as string[];
      if (ids.length === 0) return out;
      const rows = await this.readRows(ids, ['tenant', 'status', 'type', 'del']);
      for (const [data, v, poll, hook, rowTenant, status, type, del] of rows) {
        // The index is read before the rows: re-check what it promised.
        if (rowTenant !== tenant || del || (q.status && status !== q.status)) continue;
        if (types && !types.has(type ?? '')) continue;
        const task = recordOf(data, v, poll, hook);
        if (task) out.push(task);
        if (out.length >= q.limit) return out;
      }
      if (ids.length < batch) return out;
      cursor = ids[ids.length - 1];
    }
  }

  /** The READ_FIELDS (then `extra`) of each task, in one round trip. */
  private async readRows(ids: string[], extra: string[] = []): Promise<(string | null)[][]> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.task(id), ...READ_FIELDS, ...extra);
    const results = await this.connection.run(() => pipeline.exec());
    return (results ?? []).map(([err, row]) => {
      if (err) throw err;
      return row as (string | null)[];
    });
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    return this.claim(this.keys.duePolls, 'poll', now, limit, leaseMs);
  }

  async claimDueWebhooks(now: number, limit: number, leaseMs: number): Promise<TaskRecord[]> {
    return this.claim(this.keys.dueWebhooks, 'hook', now, limit, leaseMs);
  }

  private async claim(
    due: string,
    field: 'poll' | 'hook',
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<TaskRecord[]> {
    if (limit <= 0) return [];
    const claimed = await this.connection.run(() =>
      this.redis.gwClaimDue(due, this.base, field, now, limit, String(now + leaseMs)),
    );
    return claimed.flatMap(([v, data, poll, hook]) => recordOf(data, v, poll, hook) ?? []);
  }

  async nextDueAt(): Promise<number | null> {
    return this.earliest(this.keys.duePolls);
  }

  async nextWebhookDueAt(): Promise<number | null> {
    return this.earliest(this.keys.dueWebhooks);
  }

  private async earliest(due: string): Promise<number | null> {
    const [, score] = await this.connection.run(() => this.redis.zrange(due, 0, 0, 'WITHSCORES'));
    return score === undefined ? null : Number(score);
  }

  async countActiveByCredential(provider: string): Promise<Map<string, number>> {
    const counts = await this.connection.run(() => this.redis.hgetall(this.keys.active(provider)));
    return new Map(Object.entries(counts).map(([credential, n]) => [credential, Number(n)]));
  }

  async findByUpstreamId(provider: string, upstreamId: string): Promise<TaskRecord | undefined> {
    const key = this.keys.upstream(provider, upstreamId);
    const [newest] = (await this.connection.run(() =>
      this.redis.call('ZRANGE', key, '+', '-', 'BYLEX', 'REV', 'LIMIT', 0, 1),
    )) as string[];
    return newest === undefined ? undefined : this.get(newest);
  }

  async countByStatus(): Promise<port.TaskCount[]> {
    const counts = await this.connection.run(() => this.redis.hgetall(this.keys.counts));
    return Object.entries(counts).map(([field, n]) => {
      // `<status>:<provider>`: statuses hold no colon.
      const at = field.indexOf(':');
      return {
        provider: field.slice(at + 1),
        status: field.slice(0, at) as TaskStatus,
        count: Number(n),
      };
    });
  }

  async countPendingWebhooks(): Promise<number> {
    const n = await this.connection.run(() => this.redis.get(this.keys.pendingWebhooks));
    return n === null ? 0 : Number(n);
  }

  async putMedia(media: port.StoredMedia): Promise<void> {
    await this.connection.run(() =>
      this.redis.gwPutMedia(
        this.keys.media(media.id),
        this.keys.mediaExpiry,
        this.base,
        media.id,
        media.contentType,
        media.bytes,
        String(media.createdAt),
        String(media.expiresAt),
      ),
    );
  }

  async getMedia(id: string): Promise<port.StoredMedia | undefined> {
    const [contentType, bytes, createdAt, expiresAt] = await this.connection.run(() =>
      this.redis.hmgetBuffer(this.keys.media(id), 'ct', 'bytes', 'created', 'expires'),
    );
    if (!contentType || !bytes || !createdAt || !expiresAt) return undefined;
    return {
      id,
      contentType: contentType.toString(),
      bytes,
      createdAt: Number(createdAt.toString()),
      expiresAt: Number(expiresAt.toString()),
    };
  }

  async purgeMedia(now: number): Promise<number> {
    return this.purgeExpired(this.keys.mediaExpiry, 'media:', now);
  }

  async putFile(file: port.StoredFile): Promise<void> {
    await this.files.put(file);
  }

  async getFile(id: string): Promise<port.StoredFile | undefined> {
    return this.files.get(id);
  }

  async listFiles(
    tenant: string,
    query: { limit: number; cursor?: string },
  ): Promise<port.StoredFileInfo[]> {
    return this.files.list(tenant, query);
  }

  async deleteFile(id: string): Promise<boolean> {
    return this.files.delete(id);
  }

  async purgeFiles(now: number): Promise<number> {
    return this.purgeExpired(this.files.expiry, 'file:', now);
  }

  private async purgeExpired(expiry: string, kind: string, now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.connection.run(() =>
        this.redis.gwPurgeExpired(expiry, this.base, kind, now, PURGE_BATCH),
      );
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }

  async claimIdempotencyKey(
    record: port.IdempotencyRecord,
    now: number,
  ): Promise<'claimed' | port.IdempotencyRecord> {
    const answer = await this.connection.run(() =>
      this.redis.gwClaimIdempotency(
        this.keys.idempotency(record),
        this.keys.idempotencyExpiry,
        this.base,
        idempotencyMember(record),
        now,
        ...idempotencyArgs(record),
      ),
    );
    return answer[0] === 1 ? 'claimed' : (JSON.parse(answer[1]) as port.IdempotencyRecord);
  }

  async updateIdempotencyKey(record: port.IdempotencyRecord): Promise<boolean> {
    const written = await this.connection.run(() =>
      this.redis.gwUpdateIdempotency(
        this.keys.idempotency(record),
        this.keys.idempotencyExpiry,
        this.base,
        idempotencyMember(record),
        0,
        ...idempotencyArgs(record),
      ),
    );
    return written === 1;
  }

  async getIdempotencyKey(
    scope: port.IdempotencyScope,
  ): Promise<port.IdempotencyRecord | undefined> {
    const data = await this.connection.run(() =>
      this.redis.hget(this.keys.idempotency(scope), 'data'),
    );
    return data === null ? undefined : (JSON.parse(data) as port.IdempotencyRecord);
  }

  async releaseIdempotencyKey(scope: port.IdempotencyScope, owner: string): Promise<void> {
    await this.connection.run(() =>
      this.redis.gwReleaseIdempotency(
        this.keys.idempotency(scope),
        this.keys.idempotencyExpiry,
        this.base,
        idempotencyMember(scope),
        owner,
      ),
    );
  }

  async purgeIdempotencyKeys(now: number): Promise<number> {
    return this.purgeExpired(this.keys.idempotencyExpiry, 'idem:', now);
  }

  /** Cluster mode: what the instances on this Redis share besides the data. */
  coordination(options: RedisCoordinationOptions = {}): StoreCoordination {
    return redisCoordination(this.url, this.connection, this.keys, options, this.admin);
  }

  async ping(): Promise<void> {
    await this.connection.run(() => this.redis.ping());
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
