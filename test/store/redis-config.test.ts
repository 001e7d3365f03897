import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('configuration of the Redis store', () => {
  it('accepts redis:// and rediss:// URLs, with genway: as the default key prefix', () => {
    const plain = loadConfig({ STORE_URL: 'redis://127.0.0.1:6379' });
    expect([plain.storeUrl, plain.redisKeyPrefix]).toEqual(['redis://127.0.0.1:6379', 'genway:']);
    const tls = loadConfig({
      STORE_URL: 'rediss://u:p@redis.internal:6380/2',
      REDIS_KEY_PREFIX: 'gw-a:',
    });
    expect([tls.storeUrl, tls.redisKeyPrefix]).toEqual([
      'rediss://u:p@redis.internal:6380/2',
      'gw-a:',
    ]);
    expect(loadConfig({}).redisKeyPrefix).toBe('genway:');
  });

  it('refuses other schemes and a prefix that would break the {gw} hash tag', () => {
    expect(problemsOf({ STORE_URL: 'redis:localhost' })[0]).toMatch(/^STORE_URL: .*redis:\/\//);
    expect(problemsOf({ STORE_URL: 'postgres://x' })[0]).toMatch(/^STORE_URL/);
    expect(problemsOf({ REDIS_KEY_PREFIX: 'a{b}:' })[0]).toMatch(/^REDIS_KEY_PREFIX/);
  });
});
