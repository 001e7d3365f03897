import { afterAll, describe, expect, it } from 'vitest';
import { tenantIdForKey } from '../../src/config/load.js';
import { KEY_A, auth } from '../helpers/test-app.js';
import { API, ML_KEYS, callsTo, fetchesOf, tracker, type Json, type Suite } from './harness.js';

// Tests run concurrently, each on its own emulator and app.
const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };
const keyOf = (body: unknown) => (body as { key?: string }).key;

/** Creates `n` tasks that stay processing for ~0.5 s (so all are in flight together). */
async function createInFlight(suite: Suite, n: number): Promise<Json[]> {
  const tasks: Json[] = [];
  for (let i = 0; i < n; i++) {
    suite.emu.scriptNext({ processing: 0, eta: 0.5 });
    const res = await suite.create('text-to-image', image);
    expect(res.statusCode).toBe(201);
    tasks.push(res.json<Json>());
  }
  return tasks;
}

describe.concurrent('ModelsLab credentials: MODELSLAB_API_KEYS with three keys', () => {
  it('MODELSLAB_LOAD_BALANCER=true: every create and fetch carries the first key', async () => {
    const s = await files.start({
      viaEnv: true,
      credentialSecrets: ML_KEYS,
      settings: { loadBalancer: true },
    });
    const tasks = await createInFlight(s, 3);
    s.emu.scriptNext('success');
    await s.create('text-to-video', { model: 'modelslab', prompt: 'waves' });
    for (const t of tasks) expect((await s.waitDone(t.id as string)).status).toBe('succeeded');

    const used = s.emu.keysUsed();
    expect(used.length).toBe(4 + 3); // four creates, one fetch per queued task
    expect(new Set(used)).toEqual(new Set([ML_KEYS[0]]));
    for (const t of tasks) {
      const record = await s.app.tasks.get(tenantIdForKey(KEY_A), t.id as string);
      expect(record.credentialId).toBe('modelslab-1');
    }
  });

  it('MODELSLAB_LOAD_BALANCER=false: tasks spread over the keys and each is fetched with its own', async () => {
    const s = await files.start({
      viaEnv: true,
      credentialSecrets: ML_KEYS,
      settings: { loadBalancer: false },
    });
    const tasks = await createInFlight(s, 3);
    const creates = callsTo(s.emu, `${API}/text2img`);
    expect(creates).toHaveLength(3);
    // Fewest in flight: three tasks in flight at once → three different keys.
    // (ties go by list order).
    expect(creates.map((c) => keyOf(c.body))).toEqual([...ML_KEYS]);

    for (const [i, t] of tasks.entries()) {
      const done = await s.waitDone(t.id as string);
      // The emulator answers "Request not found" to a fetch with another key: success
      // already proves the task kept its key. Check it call by call anyway.
      expect(done.status).toBe('succeeded');
      const createKey = keyOf(creates[i]!.body);
      const fetches = fetchesOf(s.emu, (t.upstream as Json).id as string);
      expect(fetches.length).toBeGreaterThanOrEqual(1);
      for (const f of fetches) expect(keyOf(f.body)).toBe(createKey);

      // The task records the credential id (never the key); it matches the key index.
      const record = await s.app.tasks.get(tenantIdForKey(KEY_A), t.id as string);
      expect(record.credentialId).toBe(`modelslab-${ML_KEYS.indexOf(createKey as never) + 1}`);
    }

    // With nothing in flight any more, the next task goes back to the first key.
    await s.create('text-to-image', image);
    expect(keyOf(callsTo(s.emu, `${API}/text2img`)[3]!.body)).toBe(ML_KEYS[0]);

    // No key anywhere in what clients can read.
    const list = await s.inject({ method: 'GET', url: '/v1/tasks', headers: auth(KEY_A) });
    expect(list.json<{ data: Json[] }>().data).toHaveLength(4);
    for (const key of ML_KEYS) expect(list.body).not.toContain(key);
    expect(list.body).not.toContain('credential');
  });
});
