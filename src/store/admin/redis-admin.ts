import type { Redis } from 'ioredis';
import type * as port from '../../domain/admin-store.js';
import type { RedisConnection } from '../redis/connection.js';
import type { RedisSubscriber } from '../redis/subscriber.js';
import { KeptLookups } from '../redis/kept-lookups.js';

/*
 * Layout, under the store's key base `<prefix>{gw}:` (one slot, so every script may touch
 * any key). Tenant ids and key hashes are restricted to [A-Za-z0-9_.-] and hex.
 *   adm:tenant:<id> STRING json      adm:tenants ZSET (lex by id)
 *   adm:key:<sha256> STRING json     adm:key-id:<id> STRING sha256    adm:keys:<tenant> ZSET id -> createdAt
 *   budget:used:<tenant>:<period> STRING micro-dollars used (charged plus reserved)
 *   budget:res:<task> HASH one reservation    budget:res-expiry ZSET task -> expiresAt
 *   ledger:entry:<task> STRING json   ledger:all, ledger:tenant:<tenant> ZSET task -> settled at
 *   adm:changes  pub/sub channel: the id of each tenant written or deleted (redis/kept-lookups.ts)
 *   adm:key-changes  pub/sub channel: the hash of each key revoked (itself or with its tenant)
 */

/** Ends a reservation: its amount is replaced by `charged` in its period's use. */
const TAKE = `
local P = ARGV[1]
local function take(task, charged)
  local key = P .. 'budget:res:' .. task
  local r = redis.call('HMGET', key, 'tenant', 'period', 'amount')
  if not r[1] then return end
  local delta = charged - tonumber(r[3])
  redis.call('INCRBY', P .. 'budget:used:' .. r[1] .. ':' .. r[2], string.format('%d', delta))
  redis.call('DEL', key)
  redis.call('ZREM', P .. 'budget:res-expiry', task)
end
`;

/** ARGV: base, task, tenant, period, limit, amount, expiresAt → {1} or {0, used}. */
const RESERVE = `
local P = ARGV[1]
local used_key = P .. 'budget:used:' .. ARGV[3] .. ':' .. ARGV[4]
local used = tonumber(redis.call('GET', used_key) or '0')
if used + tonumber(ARGV[6]) > tonumber(ARGV[5]) then return {0, string.format('%d', used)} end
redis.call('INCRBY', used_key, ARGV[6])
redis.call('HSET', P .. 'budget:res:' .. ARGV[2], 'tenant', ARGV[3], 'period', ARGV[4],
  'limit', ARGV[5], 'amount', ARGV[6], 'expires', ARGV[7])
redis.call('ZADD', P .. 'budget:res-expiry', ARGV[7], ARGV[2])
return {1}
`;

/**
 * Lua `settle(task, tenant, at, charged, entry json)` → 1, or 0 when settled already (ARGV[1]
 * the base); also used by the task update that settles a finish (redis/scripts.ts).
 */
export const SETTLE_FUNCTION = `${TAKE}
local function settle(task, tenant, at, charged, json)
  if redis.call('SETNX', P .. 'ledger:entry:' .. task, json) == 0 then return 0 end
  redis.call('ZADD', P .. 'ledger:all', at, task)
  redis.call('ZADD', P .. 'ledger:tenant:' .. tenant, at, task)
  take(task, tonumber(charged))
  return 1
end
`;

/** ARGV: base, task, tenant, at, charged, entry json → 1, or 0 when settled already. */
const SETTLE = `${SETTLE_FUNCTION}
return settle(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
`;

/** ARGV: base, task. */
const RELEASE = `${TAKE}
take(ARGV[2], 0)
return 1
`;

/** ARGV: base, id, json, 'insert' | 'update' → 1 written, 0 not. */
const PUT_TENANT = `
local key = ARGV[1] .. 'adm:tenant:' .. ARGV[2]
local ok = redis.call('SET', key, ARGV[3], ARGV[4] == 'insert' and 'NX' or 'XX')
if not ok then return 0 end
redis.call('ZADD', ARGV[1] .. 'adm:tenants', 0, ARGV[2])
redis.call('PUBLISH', ARGV[1] .. 'adm:changes', ARGV[2])
return 1
`;

/** ARGV: base, id → 1 deleted, 0 none; its keys go with it. */
const DELETE_TENANT = `
local P = ARGV[1]
for _, id in ipairs(redis.call('ZRANGE', P .. 'adm:keys:' .. ARGV[2], 0, -1)) do
  local hash = redis.call('GET', P .. 'adm:key-id:' .. id)
  if hash then
    redis.call('DEL', P .. 'adm:key:' .. hash)
    redis.call('PUBLISH', P .. 'adm:key-changes', hash)
  end
  redis.call('DEL', P .. 'adm:key-id:' .. id)
end
redis.call('DEL', P .. 'adm:keys:' .. ARGV[2])
redis.call('ZREM', P .. 'adm:tenants', ARGV[2])
redis.call('PUBLISH', P .. 'adm:changes', ARGV[2])
return redis.call('DEL', P .. 'adm:tenant:' .. ARGV[2])
`;

/** ARGV: base, id, tenant, hash, createdAt, json. */
const INSERT_KEY = `
local P = ARGV[1]
redis.call('SET', P .. 'adm:key:' .. ARGV[4], ARGV[6])
redis.call('SET', P .. 'adm:key-id:' .. ARGV[2], ARGV[4])
redis.call('ZADD', P .. 'adm:keys:' .. ARGV[3], ARGV[5], ARGV[2])
return 1
`;

/** ARGV: base, id → 1 deleted, 0 none. */
const DELETE_KEY = `
local P = ARGV[1]
local hash = redis.call('GET', P .. 'adm:key-id:' .. ARGV[2])
if not hash then return 0 end
local json = redis.call('GET', P .. 'adm:key:' .. hash)
if json then redis.call('ZREM', P .. 'adm:keys:' .. cjson.decode(json).tenant, ARGV[2]) end
redis.call('DEL', P .. 'adm:key:' .. hash, P .. 'adm:key-id:' .. ARGV[2])
redis.call('PUBLISH', P .. 'adm:key-changes', hash)
return 1
`;

type Arg = string | number;
interface AdminScripts {
  gwAdminReserve(...argv: Arg[]): Promise<[1] | [0, string]>;
  gwAdminSettle(...argv: Arg[]): Promise<number>;
  gwAdminRelease(...argv: Arg[]): Promise<number>;
  gwAdminPutTenant(...argv: Arg[]): Promise<number>;
  gwAdminDeleteTenant(...argv: Arg[]): Promise<number>;
  gwAdminInsertKey(...argv: Arg[]): Promise<number>;
  gwAdminDeleteKey(...argv: Arg[]): Promise<number>;
}

const SCRIPTS: Record<keyof AdminScripts, string> = {
  gwAdminReserve: RESERVE,
  gwAdminSettle: SETTLE,
  gwAdminRelease: RELEASE,
  gwAdminPutTenant: PUT_TENANT,
  gwAdminDeleteTenant: DELETE_TENANT,
  gwAdminInsertKey: INSERT_KEY,
  gwAdminDeleteKey: DELETE_KEY,
};

/** Entries read per MGET. */
const READ_BATCH = 500;

/** Tenants, keys, budgets and the ledger of the Redis store: every change one Lua script. */
export class RedisAdminStore implements port.AdminStore {
  private readonly redis: Redis & AdminScripts;
  /** Tenant lookups kept while the change channels are heard (followChanges). */
  private readonly tenants = new KeptLookups<port.TenantRecord>(true);
  /** Admin-API key lookups by hash (known keys only), kept likewise until a key is revoked. */
  private readonly keys = new KeptLookups<port.ApiKeyRecord>(false);

  constructor(
    private readonly connection: RedisConnection,
    client: Redis,
    private readonly base: string,
  ) {
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys: 0, lua });
    }
    this.redis = client as Redis & AdminScripts;
  }

  private run<T>(command: (redis: Redis & AdminScripts) => Promise<T>): Promise<T> {
    return this.connection.run(() => command(this.redis));
  }

  /** Tenant and key lookups are kept from now on while `subscriber` hears their changes. */
  followChanges(subscriber: RedisSubscriber): void {
    for (const [channel, kept] of [
      ['adm:changes', this.tenants],
      ['adm:key-changes', this.keys],
    ] as const) {
      subscriber.watch(
        `${this.base}${channel}`,
        (id) => kept.changed(id),
        (live) => kept.listening(live),
      );
    }
  }

  async insertTenant(t: port.TenantRecord): Promise<boolean> {
    const json = JSON.stringify(t);
    return this.changingTenant(t.id, (r) => r.gwAdminPutTenant(this.base, t.id, json, 'insert'));
  }

  async updateTenant(t: port.TenantRecord): Promise<boolean> {
    const json = JSON.stringify(t);
    return this.changingTenant(t.id, (r) => r.gwAdminPutTenant(this.base, t.id, json, 'update'));
  }

  /** A tenant write; this instance drops its kept lookup without waiting for the message. */
  private async changingTenant(
    id: string,
    write: (redis: Redis & AdminScripts) => Promise<number>,
  ): Promise<boolean> {
    try {
      return (await this.run(write)) === 1;
    } finally {
      this.tenants.changed(id);
    }
  }

  async getTenant(id: string): Promise<port.TenantRecord | undefined> {
    return this.tenants.get(id, () => this.run((r) => r.get(`${this.base}adm:tenant:${id}`)));
  }

  async listTenants(): Promise<port.TenantRecord[]> {
    const ids = await this.run((r) => r.zrange(`${this.base}adm:tenants`, 0, -1));
    return this.readAll<port.TenantRecord>(ids.map((id) => `${this.base}adm:tenant:${id}`));
  }

  async deleteTenant(id: string): Promise<boolean> {
    try {
      return await this.changingTenant(id, (r) => r.gwAdminDeleteTenant(this.base, id));
    } finally {
      this.keys.changedAll();
    }
  }

  async insertKey(k: port.ApiKeyRecord): Promise<void> {
    const json = JSON.stringify(k);
    await this.run((r) => r.gwAdminInsertKey(this.base, k.id, k.tenant, k.hash, k.createdAt, json));
  }

  async keyByHash(hash: string): Promise<port.ApiKeyRecord | undefined> {
    return this.keys.get(hash, () => this.run((r) => r.get(`${this.base}adm:key:${hash}`)));
  }

  async listKeys(tenant: string): Promise<port.ApiKeyRecord[]> {
    const ids = await this.run((r) => r.zrange(`${this.base}adm:keys:${tenant}`, 0, -1));
    if (ids.length === 0) return [];
    const hashes = await this.run((r) => r.mget(ids.map((id) => `${this.base}adm:key-id:${id}`)));
    const keys = hashes.filter((h): h is string => !!h).map((h) => `${this.base}adm:key:${h}`);
    return this.readAll<port.ApiKeyRecord>(keys);
  }

  /** A revocation; this instance drops its kept keys without waiting for the message. */
  async deleteKey(id: string): Promise<boolean> {
    try {
      return (await this.run((r) => r.gwAdminDeleteKey(this.base, id))) === 1;
    } finally {
      this.keys.changedAll();
    }
  }

  async reserveBudget(x: port.BudgetReservation): Promise<port.ReserveOutcome> {
    const [ok, used] = await this.run((r) =>
      r.gwAdminReserve(
        this.base,
        x.taskId,
        x.tenant,
        x.period,
        x.limitMicros,
        x.amountMicros,
        x.expiresAt,
      ),
    );
    return ok === 1 ? { reserved: true } : { reserved: false, usedMicros: Number(used) };
  }

  async settle(e: port.LedgerEntry): Promise<boolean> {
    const json = JSON.stringify(e);
    const done = await this.run((r) =>
      r.gwAdminSettle(this.base, e.taskId, e.tenant, e.at, e.chargedMicros, json),
    );
    return done === 1;
  }

  async releaseReservation(taskId: string): Promise<void> {
    await this.run((r) => r.gwAdminRelease(this.base, taskId));
  }

  async expiredReservations(now: number, limit: number): Promise<port.BudgetReservation[]> {
    const ids = (await this.run((r) =>
      r.call('ZRANGE', `${this.base}budget:res-expiry`, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit),
    )) as string[];
    const out: port.BudgetReservation[] = [];
    for (const taskId of ids) {
      const [tenant, period, limitMicros, amount, expires] = await this.run((r) =>
        r.hmget(
          `${this.base}budget:res:${taskId}`,
          'tenant',
          'period',
          'limit',
          'amount',
          'expires',
        ),
      );
      if (tenant == null || period == null) continue;
      out.push({
        taskId,
        tenant,
        period,
        limitMicros: Number(limitMicros),
        amountMicros: Number(amount),
        expiresAt: Number(expires),
      });
    }
    return out;
  }

  async ledger(q: { tenant?: string; from: number; to: number }): Promise<port.LedgerEntry[]> {
    const index = q.tenant ? `ledger:tenant:${q.tenant}` : 'ledger:all';
    const ids = await this.run((r) => r.zrangebyscore(`${this.base}${index}`, q.from, `(${q.to}`));
    return this.readAll<port.LedgerEntry>(ids.map((id) => `${this.base}ledger:entry:${id}`));
  }

  /** The JSON values of `keys`, in order, skipping any deleted meanwhile. */
  private async readAll<T>(keys: string[]): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < keys.length; i += READ_BATCH) {
      const values = await this.run((r) => r.mget(keys.slice(i, i + READ_BATCH)));
      for (const v of values) if (v) out.push(JSON.parse(v) as T);
    }
    return out;
  }
}
