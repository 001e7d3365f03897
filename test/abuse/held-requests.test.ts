import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startPixverseEmulator,
  type PixverseEmulator,
} from '../../src/emulators/pixverse/server.js';
import { createTaskStore } from '../../src/store/index.js';
import { KEY_A, KEY_B, buildTestApp, type TestApp } from '../helpers/test-app.js';

/**
 * Issue 12 items 6 and 8 over HTTP on loopback: a body trickled a byte at a time is timed out;
 * SSE streams, long-polls and `Prefer: wait` are capped per tenant and in all (429 problem)
 * while the other tenant is served; an abandoned `Prefer: wait` gives its place back.
 */

let emu: PixverseEmulator;
let t: TestApp;
let base: string;
let port: number;

beforeAll(async () => {
  emu = await startPixverseEmulator();
  t = await buildTestApp({
    providers: {
      pixverse: {
        baseUrl: emu.baseUrl,
        credentials: [{ id: 'pixverse-1', secret: 'pixverse-emulator-key' }],
        emulated: false,
      },
    },
    store: createTaskStore('memory:'),
    env: {
      REQUEST_TIMEOUT_MS: '1000',
      MAX_HELD_REQUESTS_PER_TENANT: '3',
      MAX_HELD_REQUESTS: '5',
      SSE_HEARTBEAT_MS: '200',
    },
  });
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  port = (t.app.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

/** Every stream opened, closed before the app (a stream left open would hold it). */
const opened: AbortController[] = [];

afterAll(async () => {
  for (const c of opened) c.abort();
  // The fetch client may keep aborted event-stream sockets half-open for a while.
  t?.app.server.closeAllConnections();
  await t?.close();
  await emu?.close();
});

const headers = (key: string) => ({
  authorization: `Bearer ${key}`,
  'content-type': 'application/json',
});

/** A text-to-video task that stays running for a minute. */
async function slowTask(key: string): Promise<string> {
  emu.scriptNext({ status: 1, afterPolls: 1_000_000, afterMs: 60_000 });
  const res = await fetch(`${base}/v1/text-to-video`, {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify({ model: 'pixverse/v5', prompt: 'a long take' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** Opens an SSE stream; resolves once its answer's head is in (status known). */
async function openStream(key: string, id: string) {
  const controller = new AbortController();
  opened.push(controller);
  const res = await fetch(`${base}/v1/tasks/${id}/events`, {
    headers: { authorization: `Bearer ${key}` },
    signal: controller.signal,
  });
  return { res, close: () => controller.abort() };
}

describe('a request body trickled in a byte at a time', () => {
  it('is cut off by REQUEST_TIMEOUT_MS', async () => {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(
      `POST /v1/text-to-image HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${KEY_A}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n`,
    );
    const started = Date.now();
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write('{');
    }, 200);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 8000))]);
    clearInterval(trickle);
    socket.destroy();
    expect(socket.destroyed).toBe(true);
    // Timed out within the second and its check interval, not after the body ends (200 s).
    expect(Date.now() - started).toBeLessThan(5000);
    if (answer) expect(answer).toMatch(/^HTTP\/1\.1 408/);
  }, 15_000);
});

describe('requests held open', () => {
  it('are capped per tenant and in all with a 429 problem, the other tenant served', async () => {
    const idA = await slowTask(KEY_A);
    const idB = await slowTask(KEY_B);
    const streams = [];
    for (let i = 0; i < 3; i++) streams.push(await openStream(KEY_A, idA));
    for (const s of streams) expect(s.res.status).toBe(200);

    // A's fourth held request, of any kind, is refused.
    const fourth = await openStream(KEY_A, idA);
    expect(fourth.res.status).toBe(429);
    expect(fourth.res.headers.get('content-type')).toContain('application/problem+json');
    expect(await fourth.res.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    const longPoll = await fetch(`${base}/v1/tasks/${idA}?wait=5`, { headers: headers(KEY_A) });
    expect(longPoll.status).toBe(429);
    await longPoll.body?.cancel();
    const creates = emu.creates;
    const waited = await fetch(`${base}/v1/text-to-video`, {
      method: 'POST',
      headers: { ...headers(KEY_A), prefer: 'wait=5' },
      body: JSON.stringify({ model: 'pixverse/v5', prompt: 'refused before creation' }),
    });
    expect(waited.status).toBe(429);
    await waited.body?.cancel();
    expect(emu.creates).toBe(creates);
    // A's plain reads still work.
    expect((await fetch(`${base}/v1/tasks/${idA}`, { headers: headers(KEY_A) })).status).toBe(200);

    // B is served meanwhile, up to the global cap (5 in all).
    const b1 = await openStream(KEY_B, idB);
    const b2 = await openStream(KEY_B, idB);
    expect([b1.res.status, b2.res.status]).toEqual([200, 200]);
    const b3 = await openStream(KEY_B, idB);
    expect(b3.res.status).toBe(429);
    expect(await b3.res.json()).toMatchObject({ detail: expect.stringContaining('retry') });

    // Places come back when streams close.
    for (const s of [...streams, b1, b2]) s.close();
    await expect
      .poll(async () => (await openStream(KEY_A, idA)).res.status, { timeout: 3000 })
      .toBe(200);
  }, 20_000);

  it('an abandoned Prefer: wait gives its place back (the answer, not the body, is watched)', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const id = await slowTask(KEY_B);
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const pending = fetch(`${base}/v1/tasks/${id}?wait=60`, {
        headers: headers(KEY_B),
        signal: controller.signal,
      }).catch(() => undefined);
      const pendingCreate = fetch(`${base}/v1/text-to-video`, {
        method: 'POST',
        headers: { ...headers(KEY_B), prefer: 'wait=60' },
        body: JSON.stringify({ model: 'pixverse/v5', prompt: `abandoned ${i}` }),
        signal: controller.signal,
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      await Promise.all([pending, pendingCreate]);
    }
    // Six waits abandoned; with the per-tenant cap at 3 a new one is taken at once.
    const started = Date.now();
    const res = await fetch(`${base}/v1/tasks/${id}?wait=1`, { headers: headers(KEY_B) });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
    // And no waiter is left on the task: the waits ended, not only their sockets.
    await expect.poll(() => t.app.tasks.waiting(id), { timeout: 2000 }).toBe(0);
  }, 20_000);
});
