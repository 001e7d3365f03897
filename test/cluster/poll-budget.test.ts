import { afterAll, describe, expect, it } from 'vitest';
import { RedisConnection } from '../../src/store/redis/connection.js';
import { RedisKeys } from '../../src/store/redis/keys.js';
import { RedisPollBudget } from '../../src/store/redis/poll-budget.js';
import { REDIS_URL, deleteKeys, testKeyPrefix } from '../helpers/redis.js';

/** The shared poll budget (GCRA on the Redis clock) as two instances see it. */
const prefix = testKeyPrefix('poll-budget');
const connections: RedisConnection[] = [];
afterAll(async () => {
  for (const c of connections) await c.close();
  await deleteKeys(prefix);
});

function instance(rate: number) {
  const connection = new RedisConnection(REDIS_URL);
  connections.push(connection);
  const keys = new RedisKeys(prefix);
  return new RedisPollBudget(
    connection,
    (p, c) => keys.pollBudget(p, c),
    (_p, credential) => (credential === 'free' ? Infinity : rate),
  );
}

describe('RedisPollBudget', () => {
  it('two instances share one budget per credential: a burst of `rate`, then 1/rate s apart', async () => {
    const [a, b] = [instance(4), instance(4)];
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) waits.push(await (i % 2 ? a : b).admit('p', 'k1'));
    expect(waits.slice(0, 4)).toEqual([0, 0, 0, 0]);
    // Over budget on both instances: the wait is about one emission interval (1050 ms / 4).
    expect(waits[4]).toBeGreaterThan(150);
    expect(waits[4]).toBeLessThanOrEqual(263);
    expect(waits[5]).toBeGreaterThan(150);
    await new Promise((r) => setTimeout(r, waits[4]! + 5));
    expect(await a.admit('p', 'k1')).toBe(0);
    expect(await b.admit('p', 'k1')).toBeGreaterThan(0);
    // Another credential has its own budget; an unlimited one never waits.
    expect(await a.admit('p', 'k2')).toBe(0);
    for (let i = 0; i < 20; i++) expect(await b.admit('p', 'free')).toBe(0);
  });
});
