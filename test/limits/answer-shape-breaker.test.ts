import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import { startFaultProxy, type FaultProxy } from '../faults/fault-proxy.js';
import { KEY_A, KEY_B, auth, buildTestApp, type TestApp } from '../helpers/test-app.js';

// Issue 12 item 3: answers shaped by one tenant's tasks (an oversized or unreadable poll
// answer) must not take the shared credential out of rotation for every tenant; failures of
// the credential or its API host (5xx) still do.

type Json = Record<string, unknown>;
const ML_KEY = 'ml-breaker-suite-key-5e1c9a2b7d3f4a6e';
const POLLS = { method: 'POST', path: /\/fetch(\/|$)/ };
const image = { model: 'modelslab/sdxl', prompt: 'a red fox in snow' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let emu: ModelslabEmulator;
let proxy: FaultProxy;
let t: TestApp;

beforeAll(async () => {
  emu = await startModelslabEmulator({ apiKeys: [ML_KEY] });
  proxy = await startFaultProxy(emu.url);
  t = await buildTestApp({
    env: { CREDENTIAL_FAILURE_THRESHOLD: '3', CREDENTIAL_COOLDOWN_MS: '60000' },
    providers: {
      modelslab: {
        baseUrl: proxy.url,
        credentials: [{ id: 'modelslab-1', secret: ML_KEY }],
        emulated: false,
        loadBalancer: true,
        videoPath: '/api/v1/enterprise/video/text2video',
      },
    },
  });
});

afterAll(async () => {
  await t.close();
  await proxy.close();
  await emu.close();
});

const create = (key: string) =>
  t.app.inject({ method: 'POST', url: '/v1/text-to-image', headers: auth(key), payload: image });

async function credentialState(): Promise<unknown> {
  const res = await t.app.inject({ method: 'GET', url: '/readyz' });
  return (res.json<{ credentials: Record<string, Json[]> }>().credentials.modelslab ?? [])[0]
    ?.state;
}

/**
 * Waits until every armed fault was used by the background poller AND handled: each task that
 * got a fault has polled again since (a task polls one call at a time), so the outcome of its
 * faulted call has reached the credential's health before the test reads it.
 */
async function faultsHandled(timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const handled = () => {
    if (proxy.pending() > 0) return false;
    const lastFault = new Map<string, number>();
    proxy.calls.forEach((c, i) => c.fault && lastFault.set(c.path, i));
    return [...lastFault].every(([path, i]) =>
      proxy.calls.slice(i + 1).some((c) => c.path === path && !c.fault),
    );
  };
  while (!handled()) {
    if (Date.now() > deadline)
      throw new Error(`${proxy.pending()} faults left unused or unhandled`);
    await sleep(20);
  }
}

/** Reads the credential's state until it is `state` (the poller's calls are asynchronous). */
async function untilCredential(state: string, timeoutMs = 15_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let seen = await credentialState();
  while (seen !== state && Date.now() < deadline) {
    await sleep(20);
    seen = await credentialState();
  }
  return seen;
}

describe('shared circuit breaker', () => {
  it("tenant A's oversized poll answers leave the credential closed; B's creates keep working; 5xx still open it", async () => {
    // Two tasks of tenant A that stay processing, so the poller keeps asking about them.
    emu.scriptNext({ processing: 1000, eta: 0 });
    emu.scriptNext({ processing: 1000, eta: 0 });
    for (let i = 0; i < 2; i++) expect((await create(KEY_A)).statusCode).toBe(201);
    // Every poll answer is 5 MB (the client reads at most 4 MB): ten in a row.
    for (let i = 0; i < 10; i++) proxy.arm(POLLS, { kind: 'huge', bytes: 5 * 1024 * 1024 });
    await faultsHandled();
    expect(proxy.calls.filter((c) => c.fault === 'huge')).toHaveLength(10);
    // Unreadable answers (truncated JSON on HTTP 200) neither.
    for (let i = 0; i < 5; i++) proxy.arm(POLLS, { kind: 'malformed' });
    await faultsHandled();
    expect(await credentialState()).toBe('closed');

    const b = await create(KEY_B);
    expect(b.statusCode).toBe(201);
    expect(b.json<Json>()).toMatchObject({ status: 'succeeded' });

    // Failures of the API host (503) take the credential out of rotation. Twice the threshold
    // is armed: a poll already on its way when they are armed may answer in between and reset
    // the count of consecutive failures once.
    for (let i = 0; i < 6; i++) {
      proxy.arm(POLLS, { kind: 'status', status: 503, body: '{"status":"error"}' });
    }
    expect(await untilCredential('open')).toBe('open');
    expect((await create(KEY_B)).statusCode).toBe(503);
  });
});
