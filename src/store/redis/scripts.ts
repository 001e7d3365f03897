import type { Redis } from 'ioredis';
import { SETTLE_FUNCTION } from '../admin/redis-admin.js';
import { countHeldSlots, SERVER_NOW_MS } from './slots.js';

/**
 * Every state change of the Redis store that must be atomic is one of these Lua scripts
 * (registered with ioredis defineCommand: EVALSHA, EVAL on NOSCRIPT). The task version is the
 * fencing token: a write based on a stale version changes nothing, and a claim bumps it, so a
 * poller whose lease expired can never overwrite a newer write.
 *
 * ARGV[1] is always the key base (`<prefix>{gw}:`, see keys.ts); the task-index keys are built
 * here from the old and new hot fields, which live under the one hash tag (one slot).
 */

/** The hot fields of a task hash, in the order the task scripts take them in ARGV. */
export const TASK_FIELDS = [
  'tenant',
  'provider',
  'cred',
  'status',
  'type',
  'up',
  'poll',
  'hook',
  'del',
  'pend',
] as const;

/** Helpers shared by insert and update: move a task between indexes and counters. */
const TASK_INDEXES = `
local P = ARGV[1]
local FIELDS = {${TASK_FIELDS.map((f) => `'${f}'`).join(', ')}}
local ACTIVE = { queued = true, running = true }

local function fields_from_argv(first)
  local f = {}
  for i, name in ipairs(FIELDS) do f[name] = ARGV[first + i - 1] end
  return f
end

local function fields_from_hash(key)
  local values = redis.call('HMGET', key, unpack(FIELDS))
  local f = {}
  for i, name in ipairs(FIELDS) do f[name] = values[i] or '' end
  return f
end

local function hash_args(f)
  local args = {}
  for _, name in ipairs(FIELDS) do
    args[#args + 1] = name
    args[#args + 1] = f[name]
  end
  return args
end

local function count(key, field, by)
  if redis.call('HINCRBY', key, field, by) <= 0 then redis.call('HDEL', key, field) end
end

-- The sorted sets a task in state f is in: key -> score (as the string stored).
local function memberships(f)
  local m = {}
  if f.del == '' then
    m[P .. 'tasks:all:' .. f.tenant] = '0'
    m[P .. 'tasks:' .. f.status .. ':' .. f.tenant] = '0'
  end
  if f.up ~= '' then m[P .. 'upstream:' .. f.provider .. ':' .. f.up] = '0' end
  if f.poll ~= '' then m[P .. 'due:poll'] = f.poll end
  if f.hook ~= '' then m[P .. 'due:webhook'] = f.hook end
  return m
end

-- Adds the counters a task in state f counts in (key -> field -> steps) to out.
local function counters(f, sign, out)
  local function add(key, field)
    local fields = out[key]
    if not fields then
      fields = {}
      out[key] = fields
    end
    fields[field] = (fields[field] or 0) + sign
  end
  if ACTIVE[f.status] then
    add(P .. 'active:' .. f.provider, f.cred)
    add(P .. 'active-tenants:' .. f.provider, f.tenant)
  end
  add(P .. 'counts', f.status .. ':' .. f.provider)
  return out
end

-- Moves the task from the indexes and counters of state old (nil: a new task) to those of
-- state new, touching only what differs (a status change leaves tasks:all alone, say).
local function reindex(id, old, new)
  local was = old and memberships(old) or {}
  local now = memberships(new)
  for key in pairs(was) do
    if now[key] == nil then redis.call('ZREM', key, id) end
  end
  for key, score in pairs(now) do
    if was[key] ~= score then redis.call('ZADD', key, score, id) end
  end
  local steps = counters(new, 1, old and counters(old, -1, {}) or {})
  for key, fields in pairs(steps) do
    for field, by in pairs(fields) do
      if by ~= 0 then count(key, field, by) end
    end
  end
  -- The task holds its credential slot from now on: a reservation made for it is over
  -- (redis/slots.ts).
  if ACTIVE[new.status] then
    redis.call('ZREM', P .. 'reserved:' .. new.provider .. ':' .. new.cred, id)
  end
  local pending = (tonumber(new.pend) or 0) - (old and tonumber(old.pend) or 0)
  if pending ~= 0 then
    if redis.call('INCRBY', P .. 'webhooks:pending', pending) <= 0 then
      redis.call('DEL', P .. 'webhooks:pending')
    end
  end
end
`;

const INSERT_START = `${TASK_INDEXES}
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('task exists') end
local f = fields_from_argv(5)
`;
const INSERT_END = `
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'data', ARGV[4], unpack(hash_args(f)))
reindex(ARGV[2], nil, f)
return 1
`;

/** KEYS[1] task; ARGV: base, id, version, data, TASK_FIELDS... Errors when the id exists. */
const INSERT_TASK = `${INSERT_START}${INSERT_END}`;

/**
 * The insert of a queued task that takes its credential's slot (TaskStore.insertWithinCap):
 * ARGV as insert's, then the cap. Counts the slots held as redis/slots.ts does (unfinished
 * tasks, live reservations); returns 0 and writes nothing when they reach the cap.
 */
const INSERT_WITHIN_CAP = `${INSERT_START}${SERVER_NOW_MS}
local reserved = P .. 'reserved:' .. f.provider .. ':' .. f.cred
${countHeldSlots("P .. 'active:' .. f.provider", 'f.cred', 'reserved')}
-- A reservation of this task's own is its slot already.
if redis.call('ZSCORE', reserved, ARGV[2]) then held = held - 1 end
if held >= tonumber(ARGV[5 + #FIELDS]) then return 0 end
${INSERT_END}`;

/**
 * Compare-and-set: writes only when the stored version is ARGV[3] - 1, moving the task from
 * its old indexes to its new ones in the same step. Same ARGV as insert; returns 1 or 0.
 */
const UPDATE_FUNCTION = `${TASK_INDEXES}
local function update_task()
  local v = redis.call('HGET', KEYS[1], 'v')
  if not v or tonumber(v) ~= tonumber(ARGV[3]) - 1 then return 0 end
  local old = fields_from_hash(KEYS[1])
  local f = fields_from_argv(5)
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'data', ARGV[4], unpack(hash_args(f)))
  reindex(ARGV[2], old, f)
  return 1
end
`;
const UPDATE_TASK = `${UPDATE_FUNCTION}
return update_task()
`;

/**
 * The update of a task reaching its terminal status, then (when written) the settlement of its
 * ledger entry (store/admin/redis-admin.ts). ARGV as update's, then the entry's tenant, time,
 * charged micro-dollars and JSON. Returns {written, settled} (1 or 0 each).
 */
const UPDATE_AND_SETTLE = `${UPDATE_FUNCTION}${SETTLE_FUNCTION}
if update_task() == 0 then return { 0, 0 } end
local n = 5 + #FIELDS
return { 1, settle(ARGV[2], ARGV[n], ARGV[n + 1], ARGV[n + 2], ARGV[n + 3]) }
`;

/**
 * Due-time claim (polls or webhook attempts). KEYS[1] the due ZSET; ARGV: base, hash field
 * (`poll` or `hook`), now, limit, now + lease. Takes the earliest due ids, pushes each one's
 * time to the lease end and bumps its version; returns {version, data, poll, hook} per task.
 */
const CLAIM_DUE = `
local P = ARGV[1]
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[3], 'BYSCORE', 'LIMIT', 0, ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local key = P .. 'task:' .. id
  if redis.call('EXISTS', key) == 1 then
    local v = redis.call('HINCRBY', key, 'v', 1)
    redis.call('HSET', key, ARGV[2], ARGV[5])
    redis.call('ZADD', KEYS[1], ARGV[5], id)
    local r = redis.call('HMGET', key, 'data', 'poll', 'hook')
    out[#out + 1] = { tostring(v), r[1], r[2], r[3] }
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`;

/**
 * Redis-side expiry as a safety net only: the store's own semantics follow the caller's clock
 * (the expiry ZSETs and purge*(now)); this drops entries nobody purged a minute after they
 * expired by the server's clock.
 */
const EXPIRE_LATER = `
local function expire_later(key, at)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('PEXPIREAT', key, string.format('%d', math.max(tonumber(at), now) + 60000))
end
`;

/**
 * Idempotency-Key claim. KEYS[1] key hash, KEYS[2] expiry ZSET; ARGV: base, member, now,
 * owner, state, task ('' = none), lockedUntil, expiresAt, data. Stores the record unless a live
 * key holds the scope (expired keys and abandoned claims without a task count as absent).
 * Returns {1} when claimed, else {0, stored data}.
 */
const CLAIM_IDEMPOTENCY = `${EXPIRE_LATER}
local held = redis.call('HMGET', KEYS[1], 'state', 'task', 'locked', 'expires', 'data')
if held[5] then
  local now = tonumber(ARGV[3])
  local abandoned = held[1] == 'in_progress' and held[2] == '' and tonumber(held[3]) <= now
  if tonumber(held[4]) > now and not abandoned then return { 0, held[5] } end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'owner', ARGV[4], 'state', ARGV[5], 'task', ARGV[6],
  'locked', ARGV[7], 'expires', ARGV[8], 'data', ARGV[9])
redis.call('ZADD', KEYS[2], ARGV[8], ARGV[2])
expire_later(KEYS[1], ARGV[8])
return { 1 }
`;

/** Owner-checked write of an Idempotency-Key; same KEYS and ARGV as the claim (ARGV[3] unused). */
const UPDATE_IDEMPOTENCY = `${EXPIRE_LATER}
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[4] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[5], 'task', ARGV[6],
  'locked', ARGV[7], 'expires', ARGV[8], 'data', ARGV[9])
redis.call('ZADD', KEYS[2], ARGV[8], ARGV[2])
expire_later(KEYS[1], ARGV[8])
return 1
`;

/** Owner-checked delete. KEYS[1] key hash, KEYS[2] expiry ZSET; ARGV: base, member, owner. */
const RELEASE_IDEMPOTENCY = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[3] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`;

/** KEYS[1] media hash, KEYS[2] expiry ZSET; ARGV: base, id, contentType, bytes, createdAt, expiresAt. */
const PUT_MEDIA = `${EXPIRE_LATER}
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'ct', ARGV[3], 'bytes', ARGV[4], 'created', ARGV[5], 'expires', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
expire_later(KEYS[1], ARGV[6])
return 1
`;

/**
 * Stores an uploaded file. KEYS[1] its hash, KEYS[2] its tenant's ZSET, KEYS[3] the file
 * expiry ZSET; ARGV: base, id, info JSON, bytes, expiresAt. The hash remembers its tenant set
 * (`set`) so that a delete needs only the id.
 */
const PUT_FILE = `${EXPIRE_LATER}
redis.call('HSET', KEYS[1], 'info', ARGV[3], 'bytes', ARGV[4], 'set', KEYS[2])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
expire_later(KEYS[1], ARGV[5])
return 1
`;

/** Deletes a file: KEYS[1] its hash, KEYS[2] the file expiry ZSET; ARGV: base, id. 1 if it existed. */
const DELETE_FILE = `
local set = redis.call('HGET', KEYS[1], 'set')
if not set then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', set, ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
`;

/**
 * Deletes up to ARGV[4] entries whose expiry is at or before ARGV[3]. KEYS[1] the expiry ZSET;
 * ARGV[2] the kind (`media:` or `idem:`) that names the entry keys. Returns how many.
 */
const PURGE_EXPIRED = `
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[3], 'BYSCORE', 'LIMIT', 0, ARGV[4])
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. ARGV[2] .. id)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
`;

type Arg = string | Buffer | number;

/** The store's scripts as client methods (KEYS first, then ARGV). */
export interface StoreScripts {
  gwInsertTask(task: string, ...argv: Arg[]): Promise<number>;
  gwInsertWithinCap(task: string, ...argv: Arg[]): Promise<number>;
  gwUpdateTask(task: string, ...argv: Arg[]): Promise<number>;
  gwUpdateAndSettle(task: string, ...argv: Arg[]): Promise<[number, number]>;
  gwClaimDue(due: string, ...argv: Arg[]): Promise<[string, string, string, string][]>;
  gwClaimIdempotency(key: string, expiry: string, ...argv: Arg[]): Promise<[0, string] | [1]>;
  gwUpdateIdempotency(key: string, expiry: string, ...argv: Arg[]): Promise<number>;
  gwReleaseIdempotency(key: string, expiry: string, ...argv: Arg[]): Promise<number>;
  gwPutMedia(media: string, expiry: string, ...argv: Arg[]): Promise<number>;
  gwPurgeExpired(expiry: string, ...argv: Arg[]): Promise<number>;
  gwPutFile(file: string, tenantSet: string, expiry: string, ...argv: Arg[]): Promise<number>;
  gwDeleteFile(file: string, expiry: string, ...argv: Arg[]): Promise<number>;
}

const SCRIPTS: Record<keyof StoreScripts, { numberOfKeys: number; lua: string }> = {
  gwInsertTask: { numberOfKeys: 1, lua: INSERT_TASK },
  gwInsertWithinCap: { numberOfKeys: 1, lua: INSERT_WITHIN_CAP },
  gwUpdateTask: { numberOfKeys: 1, lua: UPDATE_TASK },
  gwUpdateAndSettle: { numberOfKeys: 1, lua: UPDATE_AND_SETTLE },
  gwClaimDue: { numberOfKeys: 1, lua: CLAIM_DUE },
  gwClaimIdempotency: { numberOfKeys: 2, lua: CLAIM_IDEMPOTENCY },
  gwUpdateIdempotency: { numberOfKeys: 2, lua: UPDATE_IDEMPOTENCY },
  gwReleaseIdempotency: { numberOfKeys: 2, lua: RELEASE_IDEMPOTENCY },
  gwPutMedia: { numberOfKeys: 2, lua: PUT_MEDIA },
  gwPurgeExpired: { numberOfKeys: 1, lua: PURGE_EXPIRED },
  gwPutFile: { numberOfKeys: 3, lua: PUT_FILE },
  gwDeleteFile: { numberOfKeys: 2, lua: DELETE_FILE },
};

/** Registers the scripts on `redis` and returns it typed with them. */
export function withStoreScripts(redis: Redis): Redis & StoreScripts {
  for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script);
  return redis as Redis & StoreScripts;
}
