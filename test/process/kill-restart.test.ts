import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import { startChildGateway, type ChildGateway } from '../helpers/child-gateway.js';
import { findSecrets } from '../helpers/test-app.js';
import { fetchesOf } from '../modelslab/harness.js';
import {
  WEBHOOK_SECRET,
  startReceiver,
  tenantSecret,
  until,
  verifyReceived,
  type Receiver,
} from '../webhooks/receiver.js';

/**
 * Restart safety with real processes: a gateway killed with SIGKILL (no shutdown code runs)
 * and started again on the same SQLite file resumes polling its running tasks and delivers
 * every webhook not yet delivered, with the webhook-id it had before the crash.
 */

type Json = Record<string, unknown>;
const GATEWAY_KEY = 'gw_kill_restart_tenant_0123456789';
const ML_KEY = 'ml-kill-restart-upstream-key-5f2e8d1c';
const headers = { authorization: `Bearer ${GATEWAY_KEY}`, 'content-type': 'application/json' };

let emu: ModelslabEmulator;
let rx: Receiver;
let dir: string;
const children: ChildGateway[] = [];
/** Output of every child, kept after it died, for the secret scan. */
const outputs: string[] = [];

async function startGateway(): Promise<ChildGateway> {
  const gw = await startChildGateway({
    GATEWAY_API_KEYS: GATEWAY_KEY,
    STORE_URL: `sqlite:${join(dir, 'g.db')}`,
    WEBHOOK_SECRET,
    OUTBOUND_ALLOWLIST: '127.0.0.1',
    MODELSLAB_BASE_URL: emu.url,
    MODELSLAB_API_KEYS: ML_KEY,
    POLL_INTERVAL_MS: '100',
    POLL_MAX_INTERVAL_MS: '500',
    LOG_LEVEL: 'info',
  });
  children.push(gw);
  return gw;
}

async function kill(gw: ChildGateway): Promise<void> {
  outputs.push(gw.output());
  const code = await gw.stop('SIGKILL');
  expect(code).toBeNull(); // Died of the signal, not an exit of its own.
  expect(gw.child.signalCode).toBe('SIGKILL');
}

const getTask = async (gw: ChildGateway, id: string): Promise<Json> => {
  const res = await fetch(`${gw.url}/v1/tasks/${id}`, { headers });
  outputs.push(JSON.stringify(Object.fromEntries(res.headers)));
  const text = await res.text();
  outputs.push(text);
  return JSON.parse(text) as Json;
};

const deliveriesOf = (task: Json) => ((task.webhook as Json | null)?.deliveries ?? []) as Json[];

async function create(gw: ChildGateway, path: string): Promise<Json> {
  const res = await fetch(`${gw.url}/v1/text-to-image`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      model: 'modelslab/sdxl',
      prompt: 'a lighthouse',
      webhook: { url: `${rx.url}${path}` },
    }),
  });
  const text = await res.text();
  outputs.push(text);
  expect(res.status).toBe(201);
  return JSON.parse(text) as Json;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'genway-kill-'));
  emu = await startModelslabEmulator({ apiKeys: [ML_KEY] });
  rx = await startReceiver();
});

afterAll(async () => {
  for (const gw of children) {
    if (gw.child.exitCode === null && gw.child.signalCode === null) await gw.stop('SIGKILL');
  }
  await rx?.close();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('kill -9 and restart on the same store', () => {
  it('a task killed mid-flight is polled to completion by the next process, which delivers its webhook', async () => {
    const first = await startGateway();
    // Processing for 4 fetches, ModelsLab's `eta` making them about a second apart.
    emu.scriptNext({ processing: 4, eta: 1 });
    const created = await create(first, '/mid-task');
    expect(created.status).toBe('running');
    const id = created.id as string;
    const upstreamId = (created.upstream as Json).id as string;

    // Killed just after a poll was written (well before the next one), mid-task.
    await until(async () => fetchesOf(emu, upstreamId).length >= 1, 'a first poll', 15_000);
    await new Promise((r) => setTimeout(r, 250));
    await kill(first);
    const fetchesBefore = fetchesOf(emu, upstreamId).length;
    expect(fetchesBefore).toBeLessThan(5);
    expect(rx.received.filter((r) => r.path === '/mid-task')).toHaveLength(0);

    const second = await startGateway();
    const done = await until(
      async () => {
        const task = await getTask(second, id);
        const [d] = deliveriesOf(task);
        return d?.status === 'delivered' ? task : undefined;
      },
      'the task to finish and its webhook to be delivered',
      30_000,
    );
    expect(done).toMatchObject({ id, status: 'succeeded', upstream: { id: upstreamId } });
    // The second process did the remaining polls with the task's own key.
    expect(fetchesOf(emu, upstreamId).length).toBeGreaterThan(fetchesBefore);
    expect(emu.creates).toBe(1);

    const [delivery] = deliveriesOf(done);
    const got = rx.received.filter((r) => r.path === '/mid-task');
    expect(got.length).toBeGreaterThanOrEqual(1);
    for (const r of got) expect(r.headers['webhook-id']).toBe(delivery!.id);
    expect(verifyReceived(got[0]!, tenantSecret(GATEWAY_KEY))).toMatchObject({
      id,
      status: 'succeeded',
    });
    await kill(second);
  }, 60_000);

  it('a webhook still pending at the kill (receiver down) is delivered after the restart, same webhook-id', async () => {
    rx.fallback = 'drop'; // The receiver resets every connection: it is "down".
    const first = await startGateway();
    const created = await create(first, '/receiver-down');
    expect(created.status).toBe('succeeded'); // Done at once: only the webhook is left.
    const id = created.id as string;

    // The first attempt failed and is recorded; the next one is seconds away (default schedule).
    const failed = await until(
      async () => {
        const task = await getTask(first, id);
        const [d] = deliveriesOf(task);
        return d && (d.attempts as number) >= 1 ? d : undefined;
      },
      'a failed first attempt',
      15_000,
    );
    expect(failed).toMatchObject({
      status: 'pending',
      last_error: 'Connection closed by the receiver before it answered',
    });
    await kill(first);
    const attemptsBefore = rx.received.filter((r) => r.path === '/receiver-down').length;
    expect(attemptsBefore).toBeGreaterThanOrEqual(1);

    rx.fallback = 200; // The receiver is back.
    const second = await startGateway();
    // Due 5 s after the first attempt (the schedule's first wait). On a loaded machine the kill
    // may come after the second attempt was claimed: then it is due 30 s later (the schedule's
    // second wait, and the claim's lease alike), hence the 45 s.
    const delivered = await until(
      async () => {
        const [d] = deliveriesOf(await getTask(second, id));
        return d?.status === 'delivered' ? d : undefined;
      },
      'the webhook to be delivered by the restarted process',
      45_000,
    ).catch((err: Error) => {
      const lines = (gw: ChildGateway) =>
        gw
          .output()
          .split('\n')
          .filter((l) => l.includes('webhook'));
      throw new Error(
        `${err.message}; webhook log lines, killed process:\n${lines(first).join('\n')}\n` +
          `restarted process:\n${lines(second).join('\n')}`,
      );
    });
    expect(delivered.id).toBe(failed.id);
    expect(delivered.attempts as number).toBeGreaterThan(failed.attempts as number);
    expect(delivered.last_status).toBe(200);

    const got = rx.received.filter((r) => r.path === '/receiver-down');
    expect(got.length).toBeGreaterThan(attemptsBefore);
    // Every attempt, before and after the crash, carried the same webhook-id and body.
    expect(new Set(got.map((r) => r.headers['webhook-id']))).toEqual(new Set([failed.id]));
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    expect(verifyReceived(got.at(-1)!, tenantSecret(GATEWAY_KEY))).toMatchObject({
      id,
      status: 'succeeded',
    });
    await kill(second);
  }, 90_000);

  it('no process printed a secret, and nothing sent one', () => {
    const webhookText = rx.received.map((r) => JSON.stringify(r.headers) + r.body);
    const secrets = [GATEWAY_KEY, ML_KEY, WEBHOOK_SECRET, WEBHOOK_SECRET.slice('whsec_'.length)];
    expect(findSecrets([...outputs, ...webhookText], secrets)).toEqual([]);
  });
});
