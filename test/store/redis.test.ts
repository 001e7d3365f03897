import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { TenantRecord } from '../../src/domain/admin-store.js';
import { RedisTaskStore, StoreUnavailableError } from '../../src/store/redis-store.js';
import { createTaskStore } from '../../src/store/index.js';
import { REDIS_URL, deleteKeys, keysUnder, testKeyPrefix } from '../helpers/redis.js';
import { describeTaskStoreConformance, taskRecord } from './conformance.js';

// The real Redis server on loopback (never a mock): this file's keys live under its own prefix.
const prefix = testKeyPrefix('store');
afterAll(async () => {
  await deleteKeys(prefix);
});

// A second handle is a second connection on the same prefix (a second gateway instance).
describeTaskStoreConformance(
  'redis',
  (space) => new RedisTaskStore(REDIS_URL, { keyPrefix: `${prefix}${space}:` }),
);

describe('redis store: key layout', () => {
  it('keeps every key under <prefix>{gw}: and leaves no index behind a finished task', async () => {
    const keyPrefix = `${prefix}layout:`;
    const store = createTaskStore(REDIS_URL, { redisKeyPrefix: keyPrefix });
    try {
      const task = taskRecord(1, {
        status: 'queued',
        upstreamId: 'up-1',
        nextPollAt: 10,
        tenant: 'tenant:with:colons',
      });
      await store.insert(task);
      await store.claimIdempotencyKey(
        {
          tenant: 'tenant_a',
          surface: 'normalized',
          key: 'a key: with/odd*chars',
          owner: 'o',
          fingerprint: 'f',
          state: 'in_progress',
          taskId: null,
          error: null,
          createdAt: 1,
          lockedUntil: 2,
          expiresAt: Date.now() + 60_000,
        },
        1,
      );
      await store.putMedia({
        id: 'm1',
        contentType: 'image/png',
        bytes: Buffer.from('x'),
        createdAt: 1,
        expiresAt: Date.now() + 60_000,
      });
      const base = `${keyPrefix}{gw}:`;
      expect(await keysUnder(keyPrefix)).toEqual(
        [
          'active-tenants:modelslab',
          'active:modelslab',
          'counts',
          'due:poll',
          'idem-expiry',
          'idem:tenant_a:normalized:a%20key%3A%20with%2Fodd*chars',
          'media-expiry',
          'media:m1',
          `task:${task.id}`,
          'tasks:all:tenant:with:colons',
          'tasks:queued:tenant:with:colons',
          'upstream:modelslab:up-1',
        ].map((k) => base + k),
      );
      // Done and deleted: only the task hash and the upstream index remain of it.
      const done = { ...task, status: 'succeeded' as const, nextPollAt: null, deletedAt: 5 };
      expect(await store.update({ ...done, version: 2 })).toBe(true);
      const taskKeys = (await keysUnder(keyPrefix)).filter(
        (k) => !/(idem|media)/.test(k.slice(base.length)),
      );
      expect(taskKeys).toEqual(
        ['counts', `task:${task.id}`, 'upstream:modelslab:up-1'].map((k) => base + k),
      );
    } finally {
      await store.close();
    }
  });

  it('refuses a prefix that would break the {gw} hash tag', () => {
    expect(() => new RedisTaskStore(REDIS_URL, { keyPrefix: 'a{b}:' })).toThrow(/REDIS_KEY_PREFIX/);
  });
});

describe('redis store: Redis unreachable', () => {
  /** A port that accepts connections and never answers, then one nobody listens on. */
  const silentServer = async (): Promise<[Server, number]> => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return [server, (server.address() as { port: number }).port];
  };

  it('fails fast with StoreUnavailableError, ping rejects, and nothing throws unhandled', async () => {
    const [server, port] = await silentServer();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const errors: unknown[] = [];
    const store = new RedisTaskStore(`redis://127.0.0.1:${port}`, {
      keyPrefix: `${prefix}down:`,
      connectWaitMs: 200,
      logger: {
        error: (fields) => errors.push(fields),
        warn: () => {},
        info: () => {},
        debug: () => {},
      },
    });
    try {
      const started = Date.now();
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.get('task_x')).rejects.toThrow(/store unavailable/);
      await expect(store.insert(taskRecord(1))).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
      // One outage is logged once, not once per reconnect attempt.
      await new Promise((r) => setTimeout(r, 500));
      expect(errors).toHaveLength(1);
    } finally {
      await store.close();
    }
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('a command that gets no answer times out as unavailable', async () => {
    const [server, port] = await silentServer();
    const store = new RedisTaskStore(`redis://127.0.0.1:${port}`, {
      keyPrefix: `${prefix}silent:`,
      connectWaitMs: 300,
      commandTimeoutMs: 300,
    });
    try {
      // The ready check never completes: the connection never becomes usable.
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
      server.close();
    }
  });
});

describe('redis store: admin tenants over several instances', () => {
  it('a tenant written on one instance is read on another, though lookups are kept', async () => {
    const keyPrefix = `${prefix}tenants:`;
    const [a, b] = [0, 1].map(() => new RedisTaskStore(REDIS_URL, { keyPrefix }));
    const coordinations = [a!.coordination(), b!.coordination()];
    /** `b`'s lookup of `team`, until it satisfies `ok` (the change message may be on its way). */
    const seenOnB = async (ok: (limit: number | undefined) => boolean) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const limit = (await b!.admin.getTenant('team'))?.budget?.limitUsd;
        if (ok(limit) || Date.now() > deadline) return limit;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      expect(await b!.admin.getTenant('team')).toBeUndefined(); // kept as absent
      const record: TenantRecord = {
        id: 'team',
        name: null,
        budget: { limitUsd: 5, period: 'day' },
        rateLimit: null,
        createdAt: 1,
        updatedAt: 1,
      };
      expect(await a!.admin.insertTenant(record)).toBe(true);
      expect(await seenOnB((l) => l === 5)).toBe(5);
      await a!.admin.updateTenant({ ...record, budget: { limitUsd: 7, period: 'day' } });
      expect(await seenOnB((l) => l === 7)).toBe(7);
      // The writing instance sees its own change at once.
      await b!.admin.updateTenant({ ...record, budget: { limitUsd: 9, period: 'day' } });
      expect((await b!.admin.getTenant('team'))?.budget?.limitUsd).toBe(9);
      expect(await a!.admin.deleteTenant('team')).toBe(true);
      expect(await seenOnB((l) => l === undefined)).toBeUndefined();
    } finally {
      for (const c of coordinations) await c.close();
      await a!.close();
      await b!.close();
    }
  });
});

describe('redis store: a finish and its settlement in one step', () => {
  it('settles only when the update is written, and once', async () => {
    const store = new RedisTaskStore(REDIS_URL, { keyPrefix: `${prefix}settle:` });
    try {
      const task = taskRecord(1, { status: 'running', version: 1 });
      await store.insert(task);
      const reservation = {
        taskId: task.id,
        tenant: task.tenant,
        period: 'total',
        limitMicros: 1_000_000,
        amountMicros: 300_000,
        expiresAt: 10,
      };
      expect(await store.admin.reserveBudget(reservation)).toEqual({ reserved: true });
      const entry = {
        taskId: task.id,
        tenant: task.tenant,
        keyId: null,
        provider: task.provider,
        model: task.model,
        operation: task.type,
        status: 'succeeded' as const,
        chargedMicros: 200_000,
        at: 5,
      };
      const done = { ...task, status: 'succeeded' as const, version: 2 };
      // A stale version writes nothing and settles nothing.
      expect(await store.updateAndSettle({ ...done, version: 3 }, entry)).toEqual({
        updated: false,
      });
      expect(await store.admin.ledger({ from: 0, to: 10 })).toEqual([]);
      expect(await store.updateAndSettle(done, entry)).toEqual({ updated: true, settled: true });
      expect((await store.get(task.id))?.status).toBe('succeeded');
      expect(await store.admin.ledger({ from: 0, to: 10 })).toEqual([entry]);
      // The reservation became the charge: 800 000 of the 1 000 000 are left.
      expect(
        await store.admin.reserveBudget({ ...reservation, taskId: 'x', amountMicros: 800_001 }),
      ).toMatchObject({ reserved: false, usedMicros: 200_000 });
      expect(await store.admin.settle(entry)).toBe(false);
    } finally {
      await store.close();
    }
  });
});
