import type { Redis } from 'ioredis';
import type { SharedSlots } from '../../domain/shared-slots.js';
import type { RedisConnection } from './connection.js';

/**
 * A credential's slots held = its unfinished tasks (the `active:<provider>` counter the task
 * scripts keep in step with every status change, scripts.ts) + its live reservations: a ZSET
 * (keys.reservedSlots) of task ids scored by lease end, which the task's insert leaves (same
 * script, same step). Leases run on the Redis server's clock, so instances whose clocks
 * differ agree; every script drops expired reservations before it counts.
 */
export const SERVER_NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Lua, after SERVER_NOW_MS: drops the credential's expired reservations, then sets `held`, its
 * slots held (the provider's `active` counter for it plus its live reservations). Arguments
 * are Lua expressions. Shared by the slot script and the task insert that takes a slot.
 */
export const countHeldSlots = (active: string, credential: string, reserved: string) => `
redis.call('ZREMRANGEBYSCORE', ${reserved}, '-inf', now)
local held = tonumber(redis.call('HGET', ${active}, ${credential}) or '0') + redis.call('ZCARD', ${reserved})
`;

/**
 * KEYS[1] the provider's active counter, KEYS[2] the credential's reservations; ARGV:
 * credential id, holder, cap, lease (ms). Returns {1, held} when the holder has a slot (taken
 * now, or already reserved: it gets a new lease), else {0, held}.
 */
const TAKE_SLOT = `${SERVER_NOW_MS}${countHeldSlots('KEYS[1]', 'ARGV[1]', 'KEYS[2]')}
local until_ms = string.format('%d', now + tonumber(ARGV[4]))
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  redis.call('ZADD', KEYS[2], until_ms, ARGV[2])
  return { 1, held }
end
if held >= tonumber(ARGV[3]) then return { 0, held } end
redis.call('ZADD', KEYS[2], until_ms, ARGV[2])
return { 1, held + 1 }
`;

/**
 * KEYS[1] the provider's active counter, then the reservations of each credential in ARGV
 * (same order). Returns the slots held of each.
 */
const HELD_SLOTS = `${SERVER_NOW_MS}
local out = {}
for i, credential in ipairs(ARGV) do
  local tasks = tonumber(redis.call('HGET', KEYS[1], credential) or '0')
  out[i] = tasks + redis.call('ZCOUNT', KEYS[i + 1], '(' .. now, '+inf')
end
return out
`;

interface SlotScripts {
  gwTakeSlot(
    active: string,
    reserved: string,
    credentialId: string,
    holder: string,
    cap: number,
    leaseMs: number,
  ): Promise<[number, number]>;
  gwHeldSlots(keyCount: number, ...keysThenIds: string[]): Promise<number[]>;
}

/** Cluster mode's credential slots (see domain/shared-slots.ts). */
export class RedisSharedSlots implements SharedSlots {
  private readonly redis: Redis & SlotScripts;

  constructor(
    private readonly connection: RedisConnection,
    private readonly activeOf: (provider: string) => string,
    private readonly activeTenantsOf: (provider: string) => string,
    private readonly reservedOf: (provider: string, credentialId: string) => string,
    /** How long a reservation holds its slot without its task being stored. */
    private readonly leaseMs: number,
  ) {
    const client = connection.client;
    client.defineCommand('gwTakeSlot', { numberOfKeys: 2, lua: TAKE_SLOT });
    // Variable key count: given first on each call.
    client.defineCommand('gwHeldSlots', { lua: HELD_SLOTS });
    this.redis = client as Redis & SlotScripts;
  }

  async take(
    provider: string,
    credentialId: string,
    holder: string,
    cap: number,
  ): Promise<{ taken: boolean; held: number }> {
    const [taken, held] = await this.connection.run(() =>
      this.redis.gwTakeSlot(
        this.activeOf(provider),
        this.reservedOf(provider, credentialId),
        credentialId,
        holder,
        cap,
        this.leaseMs,
      ),
    );
    return { taken: taken === 1, held: Number(held) };
  }

  async release(provider: string, credentialId: string, holder: string): Promise<void> {
    // Only reservations are in the set: a stored task's slot goes with its finish.
    await this.connection.run(() =>
      this.redis.zrem(this.reservedOf(provider, credentialId), holder),
    );
  }

  async heldByTenant(provider: string): Promise<Map<string, number>> {
    const counts = await this.connection.run(() =>
      this.redis.hgetall(this.activeTenantsOf(provider)),
    );
    return new Map(Object.entries(counts).map(([tenant, n]) => [tenant, Number(n)]));
  }

  async held(provider: string, credentialIds: readonly string[]): Promise<Map<string, number>> {
    if (credentialIds.length === 0) return new Map();
    const keys = [
      this.activeOf(provider),
      ...credentialIds.map((id) => this.reservedOf(provider, id)),
    ];
    const counts = await this.connection.run(() =>
      this.redis.gwHeldSlots(keys.length, ...keys, ...credentialIds),
    );
    return new Map(credentialIds.map((id, i) => [id, Number(counts[i])]));
  }
}
