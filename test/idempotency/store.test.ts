import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  IN_PROGRESS_LEASE_MS,
  IdempotencyKeys,
  canonicalJson,
  fingerprintOf,
} from '../../src/domain/idempotency.js';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { SqliteTaskStore } from '../../src/store/sqlite-store.js';
import type { IdempotencyRecord, TaskStore } from '../../src/domain/task-store.js';
import { taskRecord } from '../helpers/fake-provider.js';

const dir = mkdtempSync(join(tmpdir(), 'genway-idem-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scope = { tenant: 'tenant_a', surface: 'normalized', key: 'k1' };
const record = (fields: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
  ...scope,
  owner: 'owner-1',
  fingerprint: 'fp',
  state: 'in_progress',
  taskId: null,
  error: null,
  createdAt: 1000,
  lockedUntil: 1000 + IN_PROGRESS_LEASE_MS,
  expiresAt: 1000 + 86_400_000,
  ...fields,
});

let n = 0;
const stores: [string, () => TaskStore][] = [
  ['memory', () => new MemoryTaskStore()],
  ['sqlite', () => new SqliteTaskStore(join(dir, `s${++n}.db`))],
];

describe.each(stores)('%s store: Idempotency-Keys', (_name, make) => {
  it('claims a free key once; later claims get the stored key', async () => {
    const store = make();
    expect(await store.claimIdempotencyKey(record(), 1000)).toBe('claimed');
    const held = await store.claimIdempotencyKey(record({ owner: 'owner-2' }), 1001);
    expect(held).toMatchObject({ owner: 'owner-1', state: 'in_progress', taskId: null });
    // Same key string in another scope: independent.
    expect(await store.claimIdempotencyKey(record({ tenant: 'tenant_b' }), 1001)).toBe('claimed');
    expect(await store.claimIdempotencyKey(record({ surface: 'openai' }), 1001)).toBe('claimed');
    await store.close();
  });

  it('updates and releases only for the owner', async () => {
    const store = make();
    await store.claimIdempotencyKey(record(), 1000);
    expect(await store.updateIdempotencyKey(record({ owner: 'intruder', taskId: 't' }))).toBe(
      false,
    );
    const error = {
      code: 'upstream_rejected',
      message: 'no',
      errors: [{ path: 'p', message: 'm' }],
    };
    expect(
      await store.updateIdempotencyKey(record({ state: 'completed', taskId: 't1', error })),
    ).toBe(true);
    expect(await store.getIdempotencyKey(scope)).toEqual(
      record({ state: 'completed', taskId: 't1', error }),
    );
    await store.releaseIdempotencyKey(scope, 'intruder');
    expect(await store.getIdempotencyKey(scope)).toBeDefined();
    await store.releaseIdempotencyKey(scope, 'owner-1');
    expect(await store.getIdempotencyKey(scope)).toBeUndefined();
    await store.close();
  });

  it('an expired key, or a claim abandoned before naming a task, is claimed anew', async () => {
    const store = make();
    await store.claimIdempotencyKey(record({ expiresAt: 5000 }), 1000);
    expect(await store.claimIdempotencyKey(record({ owner: 'o2' }), 4999)).not.toBe('claimed');
    expect(await store.claimIdempotencyKey(record({ owner: 'o2' }), 5000)).toBe('claimed');

    const lease = 1000 + IN_PROGRESS_LEASE_MS;
    const other = { key: 'k2' };
    await store.claimIdempotencyKey(record({ ...other }), 1000);
    expect(await store.claimIdempotencyKey(record({ ...other, owner: 'o3' }), lease)).toBe(
      'claimed',
    );
    // One that named its task is never taken over by the store (the domain replays it).
    await store.claimIdempotencyKey(record({ key: 'k3', taskId: 't' }), 1000);
    expect(
      await store.claimIdempotencyKey(record({ key: 'k3', owner: 'o4' }), lease),
    ).toMatchObject({ owner: 'owner-1', taskId: 't' });
    expect(await store.purgeIdempotencyKeys(1000 + 86_400_000)).toBe(3);
    expect(await store.getIdempotencyKey(scope)).toBeUndefined();
    await store.close();
  });
});

describe('sqlite: two stores on one file (two gateway processes)', () => {
  it('claim atomically: one of many simultaneous claims wins', async () => {
    const file = join(dir, 'shared.db');
    const a = new SqliteTaskStore(file);
    const b = new SqliteTaskStore(file);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).claimIdempotencyKey(record({ owner: `o${i}` }), 1000),
      ),
    );
    expect(results.filter((r) => r === 'claimed')).toHaveLength(1);
    const winner = (await a.getIdempotencyKey(scope))?.owner;
    expect(results.every((r) => r === 'claimed' || r.owner === winner)).toBe(true);
    await a.close();
    await b.close();
  });
});

describe('IdempotencyKeys after a crash', () => {
  it('takes over a claim whose process died before storing its task', async () => {
    const store = new MemoryTaskStore();
    let now = 1000;
    await store.claimIdempotencyKey(record({ fingerprint: fingerprintOf({ a: 1 }) }), now);
    now += IN_PROGRESS_LEASE_MS;
    const keys = new IdempotencyKeys({ store, now: () => now, getTask: async () => task });
    const task = taskRecord({ provider: 'fake' });
    const out = await keys.run(scope, fingerprintOf({ a: 1 }), async (reserve) => {
      await reserve(task.id);
      await store.insert(task);
      return task;
    });
    expect(out).toEqual({ task, replayed: false });
    expect(await store.getIdempotencyKey(scope)).toMatchObject({
      state: 'completed',
      taskId: task.id,
    });
  });

  it('replays the task of a claim whose process died after storing it, starting nothing', async () => {
    const store = new MemoryTaskStore();
    const task = taskRecord({ provider: 'fake', status: 'queued' });
    await store.insert(task);
    let now = 1000;
    await store.claimIdempotencyKey(record({ fingerprint: 'fp', taskId: task.id }), now);
    now += IN_PROGRESS_LEASE_MS;
    const keys = new IdempotencyKeys({
      store,
      now: () => now,
      getTask: async (_t, id) => (await store.get(id))!,
    });
    let started = 0;
    const out = await keys.run(scope, 'fp', async () => {
      started++;
      return task;
    });
    expect(out.replayed).toBe(true);
    expect(out.task.id).toBe(task.id);
    expect(started).toBe(0);
  });
});

describe('fingerprints', () => {
  it('ignore key order and undefined members, and differ on any value', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] })).toBe('{"a":[1,{"d":2}],"b":1}');
    expect(fingerprintOf({ a: 1, b: 2 })).toBe(fingerprintOf({ b: 2, a: 1 }));
    expect(fingerprintOf({ a: 1 })).not.toBe(fingerprintOf({ a: '1' }));
    expect(fingerprintOf({ a: null })).not.toBe(fingerprintOf({}));
  });
});
