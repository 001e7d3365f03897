import { afterEach, expect, it } from 'vitest';
import { startEmulators, type RunningEmulators } from '../../src/emulators/index.js';
import { auth, buildTestApp, waitForTerminal, type TestApp } from '../helpers/test-app.js';

let emulators: RunningEmulators | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  await emulators?.close();
  t = undefined;
  emulators = undefined;
});

it('the no-credentials start serves replicate from its emulator', async () => {
  emulators = await startEmulators();
  const replicate = emulators.providers.replicate;
  expect(replicate).toMatchObject({
    emulated: true,
    credentials: [{ id: 'replicate-emulator', secret: 'r8_emulator_token' }],
  });
  t = await buildTestApp({ providers: emulators.providers });

  const models = (
    await t.app.inject({ method: 'GET', url: '/v1/models', headers: auth() })
  ).json() as {
    data: { id: string; emulated: boolean }[];
  };
  const ids = models.data.filter((m) => m.id.startsWith('replicate/'));
  expect(ids.length).toBeGreaterThan(0);
  expect(ids.every((m) => m.emulated)).toBe(true);

  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/text-to-image',
    headers: auth(),
    payload: { model: 'replicate', prompt: 'a lighthouse' },
  });
  expect(res.statusCode).toBe(201);
  const task = await waitForTerminal(t.app, (res.json() as { id: string }).id);
  expect(task.status).toBe('succeeded');
  expect((task.outputs as { content_type: string }[])[0]?.content_type).toBe('image/png');

  const rp = await t.app.inject({
    method: 'POST',
    url: '/replicate/v1/models/black-forest-labs/flux-schnell/predictions',
    headers: { ...auth(), prefer: 'wait=10' },
    payload: { input: { prompt: 'x' } },
  });
  expect(rp.statusCode).toBe(201);
  expect((rp.json() as { status: string }).status).toBe('succeeded');
});
