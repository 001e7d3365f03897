import type { Redis } from 'ioredis';
import type { SharedSlots } from '../../domain/shared-slots.js';
import type { RedisConnection } from './connection.js';

/**
 * A credential's slots are one ZSET (keys.slots): members are task ids. A stored unfinished
 * task is a member with score +inf, added and removed by the task scripts themselves
 * (scripts.ts, `index`) in the same step as its status, so the set is the credential's
 * unfinished tasks; a reservation is a member scored by its lease end (ms, Redis clock). Every
 * script drops expired reservations before it counts, on the server's clock, so instances
 * whose clocks differ agree.
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS[1] the credential's slots; ARGV: holder, cap, lease (ms). Returns {1, held} when the
 * holder has a slot (taken now, or already held: a reservation gets a new lease), else
 * {0, held}.
 */
const TAKE_SLOT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local until_ms = string.format('%d', now + tonumber(ARGV[3]))
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score then
  if score ~= 'inf' then redis.call('ZADD', KEYS[1], until_ms, ARGV[1]) end
  return { 1, redis.call('ZCARD', KEYS[1]) }
end
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[2]) then return { 0, held } end
redis.call('ZADD', KEYS[1], until_ms, ARGV[1])
return { 1, held + 1 }
`;

/** KEYS[1] the credential's slots; ARGV[1] holder. Removes a reservation, never a task. */
const RELEASE_SLOT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and score ~= 'inf' then redis.call('ZREM', KEYS[1], ARGV[1]) return 1 end
return 0
`;

/** KEYS: slot sets. Returns the live members of each (tasks and unexpired reservations). */
const HELD_SLOTS = `${NOW}
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('ZCOUNT', key, '(' .. now, '+inf') end
return out
`;

interface SlotScripts {
  gwTakeSlot(key: string, holder: string, cap: number, leaseMs: number): Promise<[number, number]>;
  gwReleaseSlot(key: string, holder: string): Promise<number>;
  gwHeldSlots(count: number, ...keys: string[]): Promise<number[]>;
}

/** Cluster mode's credential slots (see domain/shared-slots.ts). */
export class RedisSharedSlots implements SharedSlots {
  private readonly redis: Redis & SlotScripts;

  constructor(
    private readonly connection: RedisConnection,
    private readonly keyOf: (provider: string, credentialId: string) => string,
    /** How long a reservation holds its slot without its task being stored. */
    private readonly leaseMs: number,
  ) {
    const client = connection.client;
    client.defineCommand('gwTakeSlot', { numberOfKeys: 1, lua: TAKE_SLOT });
    client.defineCommand('gwReleaseSlot', { numberOfKeys: 1, lua: RELEASE_SLOT });
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
      this.redis.gwTakeSlot(this.keyOf(provider, credentialId), holder, cap, this.leaseMs),
    );
    return { taken: taken === 1, held: Number(held) };
  }

  async release(provider: string, credentialId: string, holder: string): Promise<void> {
    await this.connection.run(() =>
      this.redis.gwReleaseSlot(this.keyOf(provider, credentialId), holder),
    );
  }

  async held(provider: string, credentialIds: readonly string[]): Promise<Map<string, number>> {
    if (credentialIds.length === 0) return new Map();
    const keys = credentialIds.map((id) => this.keyOf(provider, id));
    const counts = await this.connection.run(() => this.redis.gwHeldSlots(keys.length, ...keys));
    return new Map(credentialIds.map((id, i) => [id, Number(counts[i])]));
  }
}
