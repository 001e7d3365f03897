import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import { auth, buildTestApp, waitForTerminal, type TestApp } from '../helpers/test-app.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('webhook on create', () => {
  let emu: ModelslabEmulator;
  let t: TestApp;
  beforeAll(async () => {
    emu = await startModelslabEmulator();
    t = await buildTestApp({
      env: { WEBHOOK_SECRET: SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
      // Delivery itself is test/webhooks/: here the recorded state must not move on.
      webhooks: false,
      providers: {
        modelslab: {
          baseUrl: emu.url,
          credentials: [{ id: 'ml-1', secret: 'ml-emulator-key' }],
          emulated: false,
          loadBalancer: true,
          videoPath: '/api/v1/enterprise/video/text2video',
        },
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await emu.close();
  });

  const create = (webhook: unknown) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/text-to-image',
      headers: auth(),
      payload: { model: 'modelslab/sdxl', prompt: 'x', webhook },
    });

  it('records the terminal event as a pending delivery in the same write as the change', async () => {
    const res = await create({ url: 'http://127.0.0.1:9/hook' });
    expect(res.statusCode).toBe(201);
    const task = await waitForTerminal(t.app, res.json().id);
    expect(task.webhook).toMatchObject({
      url: 'http://127.0.0.1:9/hook',
      events: ['task.succeeded', 'task.failed', 'task.canceled'],
      deliveries: [{ event: 'task.succeeded', attempts: 0 }],
    });
  });

  it('refuses a private address that is not allow-listed, before any upstream call', async () => {
    const before = emu.creates;
    const res = await create({ url: 'http://10.0.0.7/hook' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].path).toBe('webhook.url');
    expect(emu.creates).toBe(before);
  });
});
