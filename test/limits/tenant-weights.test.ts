import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryTaskStore } from '../../src/store/memory-store.js';
import { auth } from '../helpers/test-app.js';
import { sleep, tracker, type Json, type Suite } from '../modelslab/harness.js';

// `tenants[].weight` in GATEWAY_CONFIG: a tenant's fair share of a provider's slots is its
// weight over the others'; a freed slot goes to the waiter holding the fewest per weight.

const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

const HEAVY_KEY = 'gw_test_tenant_heavy_0123456789ab';
const LIGHT_KEY = 'gw_test_tenant_light_0123456789ab';
const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };

function configFile(heavyWeight: number): string {
  const path = join(mkdtempSync(join(tmpdir(), 'genway-weights-')), 'genway.yaml');
  const yaml = [
    'tenants:',
    `  - { id: heavy, keys: ["${HEAVY_KEY}"], weight: ${heavyWeight} }`,
    `  - { id: light, keys: ["${LIGHT_KEY}"] }`,
  ].join('\n');
  writeFileSync(path, yaml);
  return path;
}

async function settled(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p.then(() => true), sleep(0).then(() => marker)])) !== marker;
}

/**
 * Four slots: light holds two, heavy two; light queues first, then heavy; one of light's
 * jobs finishes. Returns which waiter got the freed slot.
 */
async function whoGetsTheSlot(heavyWeight: number): Promise<string> {
  const store = new MemoryTaskStore();
  const s: Suite = await files.start({
    viaEnv: true,
    app: {
      store,
      poller: false,
      env: {
        GATEWAY_CONFIG: configFile(heavyWeight),
        MODELSLAB_MAX_IN_FLIGHT: '4',
        QUEUE_MAX: '4',
        QUEUE_WAIT_MS: '2000',
      },
    },
  });
  const create = (key: string) => s.create('text-to-image', image, auth(key));
  s.emu.scriptNext({ processing: 0, eta: 0 });
  for (let i = 0; i < 3; i++) s.emu.scriptNext({ processing: 1000, eta: 0 });
  // The waiter served next stays in flight too, so exactly one waiter gets a slot.
  s.emu.scriptNext({ processing: 1000, eta: 0 });
  const lightFirst = (await create(LIGHT_KEY)).json<Json>().id as string;
  expect((await create(LIGHT_KEY)).statusCode).toBe(201);
  for (let i = 0; i < 2; i++) expect((await create(HEAVY_KEY)).statusCode).toBe(201);
  const lightWaits = create(LIGHT_KEY);
  await sleep(20);
  const heavyWaits = create(HEAVY_KEY);
  await sleep(20);
  await s.app.tasks.poll((await store.get(lightFirst))!);
  await sleep(50);
  const winner = (await settled(heavyWaits)) ? 'heavy' : (await settled(lightWaits)) ? 'light' : '';
  // The other one times out (QUEUE_WAIT_MS): nothing else frees a slot.
  const answers: LightMyRequestResponse[] = await Promise.all([lightWaits, heavyWaits]);
  expect(answers.map((r) => r.statusCode).sort()).toEqual([201, 429]);
  return winner;
}

describe('tenant weights', () => {
  it('even weights: the freed slot goes to the tenant holding fewer (light, 1 of 4)', async () => {
    expect(await whoGetsTheSlot(1)).toBe('light');
  });

  it('heavy with weight 3 holds 2 of its 3 slots: it gets the freed slot before light', async () => {
    expect(await whoGetsTheSlot(3)).toBe('heavy');
  });
});
