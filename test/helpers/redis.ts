import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis server the tests use (started by .ci/run when none answers). */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test file, so files running at once never meet. */
export const testKeyPrefix = (what: string) =>
  `genway-test:${what}:${randomBytes(6).toString('hex')}:`;

/** Deletes every key under `prefix` (SCAN + DEL of that prefix only; never FLUSHALL). */
export async function deleteKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    // Escape glob characters the prefix may hold ({gw} has none, but be exact).
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    for await (const keys of redis.scanStream({ match: pattern, count: 500 })) {
      const batch = keys as string[];
      if (batch.length > 0) deleted += await redis.del(...batch);
    }
  } finally {
    await redis.quit();
  }
  return deleted;
}

/** Every key under `prefix`, sorted. */
export async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const out: string[] = [];
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    for await (const keys of redis.scanStream({ match: pattern, count: 500 })) {
      out.push(...(keys as string[]));
    }
    return out.sort();
  } finally {
    await redis.quit();
  }
}
