import { describe, expect, it } from 'vitest';
import { RedisKeys, idempotencyMember } from './keys.js';

describe('Redis key layout', () => {
  it('puts every key under <prefix>{gw}: (one hash slot)', () => {
    const keys = new RedisKeys('genway:');
    expect(keys.task('task_1')).toBe('genway:{gw}:task:task_1');
    expect(keys.list('t1')).toBe('genway:{gw}:tasks:all:t1');
    expect(keys.list('t1', 'running')).toBe('genway:{gw}:tasks:running:t1');
    expect(keys.upstream('pixverse', '123')).toBe('genway:{gw}:upstream:pixverse:123');
    expect(keys.media('abc')).toBe('genway:{gw}:media:abc');
    for (const key of [keys.duePolls, keys.dueWebhooks, keys.counts, keys.pendingWebhooks]) {
      expect(key.startsWith('genway:{gw}:')).toBe(true);
    }
    expect(new RedisKeys('').task('x')).toBe('{gw}:task:x');
  });

  it('keeps idempotency scopes apart whatever characters they hold', () => {
    const a = idempotencyMember({ tenant: 't:a', surface: 's', key: 'k' });
    const b = idempotencyMember({ tenant: 't', surface: 'a:s', key: 'k' });
    const c = idempotencyMember({ tenant: 't', surface: 'a', key: 's:k' });
    expect(new Set([a, b, c]).size).toBe(3);
    expect(a.split(':')).toHaveLength(3);
  });

  it('refuses a prefix with braces: it would move keys out of the {gw} slot', () => {
    expect(() => new RedisKeys('a{x}:')).toThrow(/REDIS_KEY_PREFIX/);
  });
});
