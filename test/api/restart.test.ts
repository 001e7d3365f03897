import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import { buildTestApp, findSecrets, type TestApp } from '../helpers/test-app.js';
import { API, ML_KEYS, fetchesOf, wrap, type Json, type Suite } from '../modelslab/harness.js';

let dir: string | undefined;
let emu: ModelslabEmulator | undefined;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
  await emu?.close();
  emu = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('restart with STORE_URL=sqlite:<file>', () => {
  it('a task left processing by a closed app is finished by a new app on the same file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'genway-restart-'));
    emu = await startModelslabEmulator({ apiKeys: [...ML_KEYS] });
    const settings: ModelslabSettings = {
      baseUrl: emu.url,
      credentials: [{ id: 'modelslab-1', secret: ML_KEYS[0] }],
      emulated: false,
      loadBalancer: true,
      videoPath: `${API}/video/text2video`,
    };
    const storeUrl = `sqlite:${join(dir, 'genway.db')}`;

    // First process: slow polling, so it is closed before its first fetch.
    const first = await buildTestApp({
      env: { STORE_URL: storeUrl, POLL_INTERVAL_MS: '1000', POLL_MAX_INTERVAL_MS: '1000' },
      providers: { modelslab: settings },
    });
    apps.push(first);
    const a: Suite = wrap(emu, first, () => first.close());
    emu.scriptNext({ processing: 3, eta: 0 });
    const created = (
      await a.create('text-to-video', { model: 'modelslab', prompt: 'waves', metadata: { k: 'v' } })
    ).json<Json>();
    expect(created.status).toBe('running');
    const id = created.id as string;
    const upstreamId = (created.upstream as Json).id as string;
    await first.close();
    apps.pop();
    expect(fetchesOf(emu, upstreamId)).toHaveLength(0);

    // Second process, same file and emulator.
    const second = await buildTestApp({
      env: { STORE_URL: storeUrl },
      providers: { modelslab: settings },
    });
    apps.push(second);
    const b: Suite = wrap(emu, second, () => second.close());
    const read = await b.getTask(id);
    expect(read).toMatchObject({
      id,
      status: 'running',
      upstream: { id: upstreamId, status: 'processing' },
      metadata: { k: 'v' },
      created_at: created.created_at,
    });

    const done = await b.waitDone(id);
    expect(done).toMatchObject({ id, status: 'succeeded', upstream: { id: upstreamId } });
    expect((done.outputs as Json[])[0]).toMatchObject({ content_type: 'video/mp4' });
    // The new process did the fetching (4: three processing, then success), with the task's key.
    const fetches = fetchesOf(emu, upstreamId);
    expect(fetches).toHaveLength(4);
    for (const f of fetches) expect((f.body as Json).key).toBe(ML_KEYS[0]);
    expect(emu.creates).toBe(1);

    // A third read after restart shows the same finished task.
    await second.close();
    apps.pop();
    const third = await buildTestApp({
      env: { STORE_URL: storeUrl },
      providers: { modelslab: settings },
    });
    apps.push(third);
    const c = wrap(emu, third, () => third.close());
    expect(await c.getTask(id)).toEqual(done);

    for (const suite of [a, b, c]) expect(suite.leaks()).toEqual([]);
    expect(findSecrets([...first.logs, ...second.logs, ...third.logs], ML_KEYS)).toEqual([]);
  });
});
