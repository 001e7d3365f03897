import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import type { ModelslabSettings } from '../../src/providers/modelslab/index.js';
import type { ReplicateSettings } from '../../src/providers/replicate/index.js';
import { closedPort } from '../ambiguous/fake-upstream.js';
import { auth, buildTestApp, waitForTerminal, type TestApp } from '../helpers/test-app.js';
import { parsePrometheus } from '../metrics/prometheus-text.js';

/**
 * Issue 12 item 8: a create that fails over (ModelsLab unreachable → the Replicate fallback)
 * is stored under its new provider and credential in SQLite, so a restarted gateway counts its
 * slot on the credential that holds it (not on the one it left), reports it under the right
 * provider, and releases that slot when the task ends.
 */

const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
const SD_MODEL = `replicate/stability-ai/stable-diffusion:${SD}`;
const R8_TOKEN = 'r8_failover_restart_token_2b3c4d5e6f7a';
const ML_KEYS = ['ml-restart-key-one-5c6d7e8f9a0b1c2d', 'ml-restart-key-two-6d7e8f9a0b1c2d3e'];

const dir = mkdtempSync(join(tmpdir(), 'genway-failover-restart-'));
const apps: TestApp[] = [];
let emu: ReplicateEmulator | undefined;
afterAll(async () => {
  for (const a of apps.splice(0)) await a.close();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** genway_tasks and genway_credential_in_flight of one scrape, as `name{labels}` → value. */
async function gauges(t: TestApp): Promise<Map<string, number>> {
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  const out = new Map<string, number>();
  for (const s of parsePrometheus(res.body).samples) {
    if (s.name === 'genway_tasks')
      out.set(`tasks ${s.labels.provider}/${s.labels.status}`, s.value);
    if (s.name === 'genway_credential_in_flight') {
      out.set(`in_flight ${s.labels.provider}/${s.labels.credential}`, s.value);
    }
  }
  return out;
}

describe('failover, then restart on the same SQLite file', () => {
  it('the moved task counts on its new provider and credential after the restart', async () => {
    // The Replicate prediction needs four polls to finish.
    emu = await startReplicateEmulator({
      tokens: [R8_TOKEN],
      timeScale: 0.01,
      pollsStarting: 2,
      pollsProcessing: 2,
    });
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, `fallbacks:\n  modelslab/sdxl:\n    - "${SD_MODEL}"\n`);
    const modelslab: ModelslabSettings = {
      baseUrl: `http://127.0.0.1:${await closedPort()}`,
      credentials: ML_KEYS.map((secret, i) => ({ id: `modelslab-${i + 1}`, secret })),
      emulated: false,
      loadBalancer: false,
      videoPath: '/api/v1/enterprise/video/text2video',
    };
    const replicate: ReplicateSettings = {
      baseUrl: emu.baseUrl,
      credentials: [{ id: 'replicate-1', secret: R8_TOKEN }],
      emulated: false,
      models: [],
    };
    const env = { GATEWAY_CONFIG: file, STORE_URL: `sqlite:${join(dir, 'genway.db')}` };
    const start = async (extra: Record<string, string>) => {
      const t = await buildTestApp({
        providers: { modelslab, replicate },
        env: { ...env, ...extra },
      });
      apps.push(t);
      return t;
    };

    // Its first poll is due in a second (kept in the store): the restarted gateway makes it.
    const first = await start({ POLL_INTERVAL_MS: '1000', POLL_MAX_INTERVAL_MS: '1000' });
    const res = await first.app.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'modelslab/sdxl', prompt: 'a windmill', width: 512, height: 512 },
    });
    expect(res.statusCode).toBe(201);
    const created = res.json<{ id: string; provider: string; status: string }>();
    expect(created).toMatchObject({ provider: 'replicate', model: SD_MODEL });
    expect(['queued', 'running']).toContain(created.status);
    await first.close();
    apps.pop();

    const second = await start({});
    const before = await gauges(second);
    const active = [...before].filter(([k, v]) => k.startsWith('tasks ') && v > 0);
    expect(active).toHaveLength(1);
    expect(active[0]![0]).toMatch(/^tasks replicate\/(queued|running)$/);
    expect(before.get('in_flight replicate/replicate-1')).toBe(1);
    expect(before.get('in_flight modelslab/modelslab-1')).toBe(0);
    expect(before.get('in_flight modelslab/modelslab-2')).toBe(0);

    // The restarted gateway polls Replicate to the end, and the slot is given back.
    const done = await waitForTerminal(second.app, created.id, undefined, 20_000);
    expect(done).toMatchObject({ status: 'succeeded', provider: 'replicate' });
    const after = await gauges(second);
    expect(after.get('tasks replicate/succeeded')).toBe(1);
    expect(after.get('in_flight replicate/replicate-1')).toBe(0);
  }, 60_000);
});
