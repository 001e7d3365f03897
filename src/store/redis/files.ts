import type { Redis } from 'ioredis';
import type { StoredFile, StoredFileInfo } from '../../domain/task-store.js';
import type { RedisConnection } from './connection.js';
import type { StoreScripts } from './scripts.js';

/** Ids read per round trip while listing (purged files leave ids behind to skip). */
const LIST_BATCH = 100;

/**
 * Uploaded files of the Redis store, under the store's key base (one hash slot):
 * `file:<id>` HASH (info JSON, bytes), `files:<tenant>` ZSET of a tenant's ids (scores 0,
 * ordered by id = creation time), `file-expiry` ZSET id -> expiresAt. Puts and deletes are Lua
 * scripts (scripts.ts); a purge (the store's expiry script) leaves ids in the tenant sets,
 * which listings skip and remove.
 */
export class RedisFiles {
  constructor(
    private readonly redis: Redis & StoreScripts,
    private readonly connection: RedisConnection,
    private readonly base: string,
  ) {}

  private file(id: string): string {
    return `${this.base}file:${id}`;
  }

  private tenantSet(tenant: string): string {
    return `${this.base}files:${encodeURIComponent(tenant)}`;
  }

  /** ZSET id -> expiresAt (the store purges through it with kind `file:`). */
  get expiry(): string {
    return `${this.base}file-expiry`;
  }

  async put(file: StoredFile): Promise<void> {
    const { bytes, ...info } = file;
    await this.connection.run(() =>
      this.redis.gwPutFile(
        this.file(file.id),
        this.tenantSet(file.tenant),
        this.expiry,
        this.base,
        file.id,
        JSON.stringify(info),
        bytes,
        String(file.expiresAt),
      ),
    );
  }

  async get(id: string): Promise<StoredFile | undefined> {
    const [info, bytes] = await this.connection.run(() =>
      this.redis.hmgetBuffer(this.file(id), 'info', 'bytes'),
    );
    if (!info || !bytes) return undefined;
    return { ...(JSON.parse(info.toString()) as StoredFileInfo), bytes };
  }

  async list(tenant: string, query: { limit: number; cursor?: string }): Promise<StoredFileInfo[]> {
    const set = this.tenantSet(tenant);
    const out: StoredFileInfo[] = [];
    let below = query.cursor === undefined ? '+' : `(${query.cursor}`;
    while (out.length < query.limit) {
      const ids = await this.connection.run(() =>
        this.redis.zrevrangebylex(set, below, '-', 'LIMIT', 0, LIST_BATCH),
      );
      if (ids.length === 0) break;
      const infos = await this.connection.run(() =>
        Promise.all(ids.map((id) => this.redis.hget(this.file(id), 'info'))),
      );
      const gone = ids.filter((_, i) => infos[i] == null);
      if (gone.length > 0) await this.connection.run(() => this.redis.zrem(set, ...gone));
      for (const info of infos) {
        if (info != null && out.length < query.limit) out.push(JSON.parse(info) as StoredFileInfo);
      }
      below = `(${ids.at(-1)!}`;
      if (ids.length < LIST_BATCH) break;
    }
    return out;
  }

  async delete(id: string): Promise<boolean> {
    const deleted = await this.connection.run(() =>
      this.redis.gwDeleteFile(this.file(id), this.expiry, this.base, id),
    );
    return deleted === 1;
  }
}
