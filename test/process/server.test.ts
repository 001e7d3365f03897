import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_GATEWAY_KEY } from '../../src/config/config.js';
import { startModelslabEmulator } from '../../src/emulators/modelslab/server.js';
import {
  runGatewayExpectingExit,
  startChildGateway,
  type ChildGateway,
} from '../helpers/child-gateway.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const json = async (res: Response): Promise<Json> => res.json();

const dev = { authorization: `Bearer ${DEV_GATEWAY_KEY}`, 'content-type': 'application/json' };

async function waitForTerminal(base: string, id: string): Promise<Json> {
  for (let i = 0; i < 40; i++) {
    const task = await json(await fetch(`${base}/v1/tasks/${id}?wait=2`, { headers: dev }));
    if (['succeeded', 'failed', 'canceled'].includes(task.status)) return task;
  }
  throw new Error(`task ${id} did not finish`);
}

describe('the server process with no provider credentials (the quickstart)', () => {
  let gw: ChildGateway;
  beforeAll(async () => {
    gw = await startChildGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('says in its log and in /v1/models that it serves the built-in emulators', async () => {
    expect(gw.output()).toContain('serving against the built-in emulators');
    const models = await json(await fetch(`${gw.url}/v1/models`, { headers: dev }));
    expect(models.data.length).toBeGreaterThan(0);
    expect(models.data.every((m: { emulated: boolean }) => m.emulated)).toBe(true);
  });

  it('renders /docs', async () => {
    const res = await fetch(`${gw.url}/docs/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger-ui');
  });

  it('turns text-to-image into a task whose outputs download as real PNGs', async () => {
    const res = await fetch(`${gw.url}/v1/text-to-image`, {
      method: 'POST',
      headers: dev,
      body: JSON.stringify({ model: 'modelslab/sdxl', prompt: 'a red fox', num_outputs: 2 }),
    });
    expect(res.status).toBe(201);
    const task = await waitForTerminal(gw.url, (await json(res)).id);
    expect(task.status).toBe('succeeded');
    expect(task.outputs).toHaveLength(2);
    for (const output of task.outputs) {
      const file = Buffer.from(await (await fetch(output.url)).arrayBuffer());
      expect(file.subarray(0, 8)).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
    }
  });

  it('turns text-to-video into a task whose output downloads as a real MP4', async () => {
    const res = await fetch(`${gw.url}/v1/text-to-video`, {
      method: 'POST',
      headers: dev,
      body: JSON.stringify({ model: 'modelslab/cogvideox', prompt: 'waves on a beach' }),
    });
    expect(res.status).toBe(201);
    const task = await waitForTerminal(gw.url, (await json(res)).id);
    expect(task.status).toBe('succeeded');
    const file = Buffer.from(await (await fetch(task.outputs[0].url)).arrayBuffer());
    expect(file.toString('ascii', 4, 8)).toBe('ftyp');
  });
});

describe('the server process', () => {
  it('exits non-zero on a bad configuration, naming every bad variable at once', async () => {
    const { code, output } = await runGatewayExpectingExit({
      PORT: 'x',
      STORE_URL: 'nope',
      WEBHOOK_SECRET: 'plain',
    });
    expect(code).toBe(1);
    expect(output).toContain('Invalid configuration');
    for (const name of ['PORT', 'STORE_URL', 'WEBHOOK_SECRET'])
      expect(output).toContain(`${name}:`);
  });

  it('finishes in-flight requests on SIGTERM, then exits 0', async () => {
    const emulator = await startModelslabEmulator();
    const key = 'gw_process_test_key_0123456789';
    const gw = await startChildGateway({
      GATEWAY_API_KEYS: key,
      MODELSLAB_BASE_URL: emulator.url,
      MODELSLAB_API_KEYS: 'ml-emulator-key',
    });
    try {
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      emulator.scriptNext({ processing: 1000, eta: 60 });
      const created = await fetch(`${gw.url}/v1/text-to-image`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'modelslab/sdxl', prompt: 'stays running' }),
      });
      const task = await json(created);
      expect(task.status).toBe('running');
      // A 2 s long-poll is in flight when SIGTERM arrives: it must still be answered.
      const started = Date.now();
      const inFlight = fetch(`${gw.url}/v1/tasks/${task.id}?wait=2`, { headers });
      await new Promise((r) => setTimeout(r, 300));
      const exit = gw.stop('SIGTERM');
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect((await json(res)).status).toBe('running');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      expect(await exit).toBe(0);
      expect(gw.output()).toContain('shutting down');
    } finally {
      await gw.stop('SIGKILL');
      await emulator.close();
    }
  });
});
