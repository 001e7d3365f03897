import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHaiperEmulator, type HaiperEmulator } from '../../src/emulators/haiper/server.js';
import { auth, buildTestApp, findSecrets, type TestApp } from '../helpers/test-app.js';
import { WEBHOOK_SECRET, startReceiver, until, verifyReceived, type Receiver } from './receiver.js';

/**
 * The `events` filter with a provider that reports progress (Haiper through the Cloudsway
 * emulator): task.running and task.progress are sent only when asked for, each change once,
 * in the order the changes happened.
 */

type Json = Record<string, unknown>;
const ACCESS_KEY = 'haiper-webhook-test-access-key-0123456789';

describe('webhook events with progress', () => {
  let emu: HaiperEmulator;
  let rx: Receiver;
  let t: TestApp;
  const seen: string[] = [];
  beforeAll(async () => {
    emu = await startHaiperEmulator({
      accessKeys: [ACCESS_KEY],
      pollsPending: 1,
      pollsInProgress: 3,
    });
    rx = await startReceiver();
    t = await buildTestApp({
      env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1' },
      providers: {
        haiper: {
          baseUrl: emu.basePath,
          endpointPath: emu.endpointPath,
          credentials: [{ id: 'haiper-1', secret: ACCESS_KEY }],
          emulated: false,
        },
      },
      webhooks: { scheduleMs: [50, 100], attemptTimeoutMs: 1000, idleMs: 50 },
    });
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
    await emu.close();
  });

  async function run(path: string, events?: string[]): Promise<{ task: Json; bodies: Json[] }> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/text-to-video',
      headers: auth(),
      payload: {
        model: 'haiper',
        prompt: 'waves at dusk',
        webhook: { url: `${rx.url}${path}`, ...(events ? { events } : {}) },
      },
    });
    seen.push(res.body);
    expect(res.statusCode).toBe(201);
    const id = res.json<Json>().id as string;
    const task = await until(async () => {
      const r = await t.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: auth() });
      seen.push(r.body);
      const current = r.json<Json>();
      const deliveries = (current.webhook as Json).deliveries as Json[];
      const done = ['succeeded', 'failed'].includes(current.status as string);
      return done && deliveries.every((d) => d.status === 'delivered') ? current : undefined;
    }, `task ${id} and its webhooks`);
    const ids = ((task.webhook as Json).deliveries as Json[]).map((d) => d.id);
    const got = rx.received.filter((r) => r.path === path);
    // Each message once, in the order of the deliveries on the task.
    expect(got.map((r) => r.headers['webhook-id'])).toEqual(ids);
    return { task, bodies: got.map((r) => verifyReceived(r) as Json) };
  }

  it('default events: only the terminal one', async () => {
    const { task, bodies } = await run('/default');
    expect(((task.webhook as Json).deliveries as Json[]).map((d) => d.event)).toEqual([
      'task.succeeded',
    ]);
    expect(bodies.map((b) => b.status)).toEqual(['succeeded']);
  });

  it('task.progress only: one message per progress change while running, rising', async () => {
    const { task, bodies } = await run('/progress', ['task.progress']);
    const events = ((task.webhook as Json).deliveries as Json[]).map((d) => d.event);
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events)).toEqual(new Set(['task.progress']));
    const progress = bodies.map((b) => b.progress as number);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBe(progress.length);
    for (const b of bodies) expect(b.status).toBe('running');
  });

  it('running, progress and succeeded together arrive in the order of the changes', async () => {
    const { task, bodies } = await run('/all', ['task.running', 'task.progress', 'task.succeeded']);
    const events = ((task.webhook as Json).deliveries as Json[]).map((d) => d.event);
    expect(events[0]).toBe('task.running');
    expect(events.at(-1)).toBe('task.succeeded');
    expect(events.slice(1, -1).every((e) => e === 'task.progress')).toBe(true);
    expect(bodies.map((b) => b.status)).toEqual([
      'running',
      ...events.slice(1, -1).map(() => 'running'),
      'succeeded',
    ]);
    expect(bodies.at(-1)).toMatchObject({ progress: 1, outputs: [{ content_type: 'video/mp4' }] });
  });

  it('leaks no secret', () => {
    const webhookText = rx.received.map((r) => JSON.stringify(r.headers) + r.body);
    expect(findSecrets([...seen, ...t.logs, ...webhookText], [...t.secrets, ACCESS_KEY])).toEqual(
      [],
    );
  });
});
