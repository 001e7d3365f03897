import type { Redis } from 'ioredis';
import type { PollAdmission, PollRateOf } from '../../domain/poll-budget.js';
import type { RedisConnection } from './connection.js';

/**
 * GCRA (generic cell rate algorithm) per credential, on the Redis server's clock so that
 * instances whose clocks differ share one budget. KEYS[1] the credential's key; ARGV:
 * emission interval (ms per poll), burst tolerance (ms). Keeps the theoretical arrival
 * time (TAT); returns 0 when the poll may go now (and counts it), else the ms to wait.
 */
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allowed_at = tat - tolerance
if now < allowed_at then return math.ceil(allowed_at - now) end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', math.ceil(next_tat - now) + 1000)
return 0
`;

interface BudgetScript {
  gwPollBudget(key: string, interval: number, tolerance: number): Promise<number>;
}

/**
 * The poll budget of cluster mode: `rate` polls per second per credential over all
 * instances (a burst of up to `rate` at once, then one every 1/rate s). A task over budget
 * is pushed back by the wait and asks again then.
 */
export class RedisPollBudget implements PollAdmission {
  private readonly redis: Redis & BudgetScript;

  constructor(
    private readonly connection: RedisConnection,
    private readonly keyOf: (provider: string, credentialId: string) => string,
    private readonly rateOf: PollRateOf,
    /** Added to each second, as in PollBudget, against jitter between clocks. */
    private readonly guardMs = 50,
  ) {
    connection.client.defineCommand('gwPollBudget', { numberOfKeys: 1, lua: GCRA });
    this.redis = connection.client as Redis & BudgetScript;
  }

  async admit(provider: string, credentialId: string): Promise<number> {
    const rate = this.rateOf(provider, credentialId);
    if (!(rate > 0) || rate === Infinity) return 0;
    const interval = (1000 + this.guardMs) / rate;
    const burst = Math.max(1, Math.floor(rate));
    const wait = await this.connection.run(() =>
      this.redis.gwPollBudget(this.keyOf(provider, credentialId), interval, interval * (burst - 1)),
    );
    return Number(wait);
  }
}
