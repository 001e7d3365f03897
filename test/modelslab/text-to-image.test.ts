import { afterAll, describe, expect, it } from 'vitest';
import {
  API,
  PNG_SIGNATURE,
  ML_KEYS,
  callsTo,
  download,
  fetchesOf,
  tracker,
  type Json,
} from './harness.js';

// Tests run concurrently, each on its own emulator and app.
const files = tracker();
afterAll(async () => {
  expect(await files.closeAll()).toEqual([]);
});

describe.concurrent('ModelsLab text-to-image, end to end', () => {
  it('immediate success with num_outputs 2 gives two downloadable PNGs', async () => {
    const s = await files.start();
    const res = await s.create('text-to-image', {
      model: 'modelslab/sdxl',
      prompt: 'a lighthouse at dusk',
      negative_prompt: 'blurry',
      width: 512,
      height: 768,
      num_outputs: 2,
      steps: 25,
      guidance_scale: 7,
      seed: 42,
      metadata: { order: '42' },
    });
    expect(res.statusCode).toBe(201);
    const task = res.json<Json>();
    expect(res.headers.location).toBe(`/v1/tasks/${task.id as string}`);
    expect(task).toMatchObject({
      object: 'task',
      type: 'text-to-image',
      model: 'modelslab/sdxl',
      provider: 'modelslab',
      status: 'succeeded',
      progress: 1,
      error: null,
      upstream: { id: expect.any(String), status: 'success' },
      metadata: { order: '42' },
      completed_at: expect.any(String),
    });
    const outputs = task.outputs as { url: string; content_type: string }[];
    expect(outputs).toHaveLength(2);
    expect(new Set(outputs.map((o) => o.url)).size).toBe(2);
    for (const o of outputs) {
      expect(o.content_type).toBe('image/png');
      const file = await download(o.url);
      expect(file.status).toBe(200);
      expect(file.type).toBe('image/png');
      expect(file.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    }

    // One create, with the documented body: key in the body, numbers as strings.
    expect(s.emu.creates).toBe(1);
    const [create] = callsTo(s.emu, `${API}/text2img`);
    expect(create?.body).toMatchObject({
      key: ML_KEYS[0],
      model_id: 'sdxl',
      prompt: 'a lighthouse at dusk',
      negative_prompt: 'blurry',
      width: '512',
      height: '768',
      samples: '2',
      num_inference_steps: '25',
      guidance_scale: 7,
      seed: 42,
    });
    // Nothing to fetch for a job that finished at once.
    expect(fetchesOf(s.emu, String((task.upstream as Json).id))).toEqual([]);

    // The stored task reads back the same.
    const again = await s.getTask(task.id as string);
    expect(again).toEqual(task);
  });

  it('passes allow-listed provider_options through to the upstream body', async () => {
    const s = await files.start();
    const res = await s.create('text-to-image', {
      model: 'modelslab/realistic-vision-v51',
      prompt: 'portrait',
      provider_options: { lora_model: 'more_details', enhance_prompt: 'yes', clip_skip: 2 },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json<Json>()).toMatchObject({
      status: 'succeeded',
      model: 'modelslab/realistic-vision-v51',
    });
    expect(callsTo(s.emu, `${API}/text2img`)[0]?.body).toMatchObject({
      model_id: 'realistic-vision-v51',
      lora_model: 'more_details',
      enhance_prompt: 'yes',
      clip_skip: 2,
      key: ML_KEYS[0],
    });
  });

  it('string ids from the upstream are kept as the upstream id and used for fetches', async () => {
    const s = await files.start({ emulator: { stringIds: true } });
    s.emu.scriptNext({ processing: 1, eta: 0 });
    const res = await s.create('text-to-image', { model: 'modelslab', prompt: 'fox' });
    expect(res.statusCode).toBe(201);
    const created = res.json<Json>();
    expect(created.status).toBe('running');
    const upstreamId = (created.upstream as Json).id as string;
    expect(upstreamId).toMatch(/^\d+$/);
    const done = await s.waitDone(created.id as string);
    expect(done).toMatchObject({ status: 'succeeded', upstream: { id: upstreamId } });
    expect(fetchesOf(s.emu, upstreamId).length).toBe(2);
  });
});
