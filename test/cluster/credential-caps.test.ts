import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import { coordinationFor, type StoreCoordination } from '../../src/store/coordination.js';
import { RedisTaskStore } from '../../src/store/redis-store.js';
import { REDIS_URL, deleteKeys, testKeyPrefix } from '../helpers/redis.js';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';
import { API, ML_KEYS, problemOf, wrap, type Json, type Suite } from '../modelslab/harness.js';
import { until } from '../webhooks/receiver.js';

/**
 * Per-credential in-flight caps over several apps on one real Redis (127.0.0.1:6379, this
 * file's own prefix): the cap holds at the upstream however the creates are spread.
 */
const prefix = testKeyPrefix('cluster-caps');
afterAll(async () => {
  await deleteKeys(prefix);
});

let emu: ModelslabEmulator | undefined;
const apps: TestApp[] = [];
const extras: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
  for (const x of extras.splice(0)) await x.close();
  await emu?.close();
  emu = undefined;
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };
let spaces = 0;

/** An emulator that never refuses (it only records), and apps opened on one key prefix. */
async function setup(maxInFlight: number) {
  emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS], queueLimit: 1000 });
  const settings: ModelslabSettings = {
    baseUrl: emu.url,
    credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0], maxInFlight }],
    emulated: false,
    loadBalancer: true,
    videoPath: `${API}/video/text2video`,
  };
  const keyPrefix = `${prefix}${++spaces}:`;
  const open = async (env: Record<string, string> = {}): Promise<Suite> => {
    const t = await buildTestApp({
      env: { STORE_URL: REDIS_URL, REDIS_KEY_PREFIX: keyPrefix, ...env },
      providers: { modelslab: settings },
    });
    apps.push(t);
    return wrap(emu!, t, () => t.close());
  };
  return { emu, open, keyPrefix };
}

describe('credential in-flight caps over several instances', () => {
  it('cap 2, 12 creates spread over 3 instances at once: never more than 2 jobs upstream', async () => {
    const { emu, open } = await setup(2);
    const env = { QUEUE_MAX: '20', QUEUE_WAIT_MS: '60000' };
    const instances = [await open(env), await open(env), await open(env)];
    // Each job stays processing upstream until it ends on its own, 400 ms after its create.
    for (let i = 0; i < 12; i++)
      emu.scriptNext({ processing: 1_000_000, eta: 0, finishAfterMs: 400 });
    const answers: LightMyRequestResponse[] = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        instances[i % 3]!.create('text-to-image', { ...image, prompt: `fox ${i}` }),
      ),
    );
    // Every create either waited for a slot and started, or was refused before any upstream call.
    const started = answers.filter((res) => res.statusCode === 201);
    for (const res of answers.filter((r) => r.statusCode !== 201)) {
      expect(res.statusCode).toBe(429);
      expect(problemOf(res).code).toBe('upstream_rate_limited');
    }
    expect(started.length).toBe(emu.creates);
    // The queue is long and patient enough here: every create got its turn.
    expect(started).toHaveLength(12);
    for (const [i, res] of started.entries()) {
      const id = res.json<Json>().id as string;
      expect((await instances[i % 3]!.waitDone(id, undefined, 60_000)).status).toBe('succeeded');
    }
    const peak = emu.peakProcessing(ML_KEYS[0]);
    console.info(`credential cap 2 over 3 instances: peak jobs processing upstream = ${peak}`);
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(2);
  }, 120_000);

  it('a task whose instance is gone keeps its slot until another instance sees it finish', async () => {
    const { emu, open } = await setup(1);
    const env = { QUEUE_WAIT_MS: '60000' };
    const [a, b] = [await open(env), await open(env)];
    emu.scriptNext({ processing: 1_000_000, eta: 0, finishAfterMs: 800 });
    const first = await a.create('text-to-image', image);
    expect(first.statusCode).toBe(201);
    // A goes away with its task running upstream: B polls it from now on.
    await apps.splice(apps.indexOf(a.t), 1)[0]!.close();
    emu.scriptNext({ processing: 0, eta: 0 });
    const second = await b.create('text-to-image', image);
    expect(second.statusCode).toBe(201);
    // B's create waited for A's task to finish: never two jobs upstream at once.
    expect(emu.peakProcessing(ML_KEYS[0])).toBe(1);
    expect((await b.getTask(first.json<Json>().id as string)).status).toBe('succeeded');
    expect((await b.waitDone(second.json<Json>().id as string)).status).toBe('succeeded');
  }, 60_000);

  it('a slot reserved by a create that died before storing its task comes back after the lease', async () => {
    const { emu, open, keyPrefix } = await setup(1);
    const app = await open({ CLAIM_LEASE_MS: '1500', QUEUE_WAIT_MS: '30000' });
    // Another instance took the only slot and died before its insert: only its lease is left.
    const store = new RedisTaskStore(REDIS_URL, { keyPrefix });
    const coordination: StoreCoordination = coordinationFor(store, { slotLeaseMs: 1500 });
    extras.push({ close: async () => (await coordination.close(), await store.close()) });
    const slots = coordination.slots!;
    const reservedAt = Date.now();
    expect(await slots.take('modelslab', 'modelslab-1', 'task_of_a_dead_instance', 1)).toEqual({
      taken: true,
      held: 1,
    });
    emu.scriptNext({ processing: 0, eta: 0 });
    const res = await app.create('text-to-image', image);
    expect(res.statusCode).toBe(201);
    // It waited for the slot: nothing went upstream while the reservation lived.
    expect(Date.now() - reservedAt).toBeGreaterThanOrEqual(1400);
    expect(emu.creates).toBe(1);
    // The slot is now held by the new task, and freed as it finishes.
    const id = res.json<Json>().id as string;
    expect((await app.waitDone(id)).status).toBe('succeeded');
    await until(
      async () => (await slots.held('modelslab', ['modelslab-1'])).get('modelslab-1') === 0,
      'the finished task to free its slot',
    );
  }, 60_000);
});
