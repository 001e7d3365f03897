import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import type { TaskStore } from '../../src/domain/task-store.js';
import type { ReplicateEmulatorOptions } from '../../src/emulators/replicate/server.js';
import { createTaskStore } from '../../src/store/index.js';
import { KEY_B } from '../helpers/test-app.js';
import { SD_REF, startReplicateSuite, type ReplicateSuite } from '../replicate/harness.js';
import { WEBHOOK_SECRET } from '../webhooks/receiver.js';
import { until } from '../helpers/until.js';

/**
 * The real app listening on 127.0.0.1 with the Replicate provider on its emulator (loopback),
 * a memory store the test can also read, webhooks to loopback receivers allowed, and fast
 * webhook retries: what the issue 12 item 4 abuse tests run against.
 */

export type Json = Record<string, unknown>;
export const MODEL = `replicate/${SD_REF}`;

export interface BoundsSuite {
  s: ReplicateSuite;
  store: TaskStore;
  /** `http://127.0.0.1:<port>` */
  base: string;
  call(method: string, path: string, key: string, body?: unknown): Promise<Answer>;
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  body: Json;
  contentType: string;
  /** How long the answer took, ms. */
  ms: number;
}

export async function startBoundsSuite(
  emulator: ReplicateEmulatorOptions = {},
  env: Record<string, string> = {},
) {
  const store = createTaskStore('memory:');
  const s = await startReplicateSuite({
    emulator,
    app: {
      store,
      env: { WEBHOOK_SECRET, OUTBOUND_ALLOWLIST: '127.0.0.1', ...env },
      webhooks: {
        scheduleMs: [50, 50, 50, 50, 50, 50, 50, 50],
        attemptTimeoutMs: 1000,
        idleMs: 50,
      },
    },
  });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const started = Date.now();
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      // A string is sent as it is (JSON too deep for JSON.stringify, say).
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    return {
      status: res.status,
      body: (text.startsWith('{') ? JSON.parse(text) : { text }) as Json,
      contentType,
      ms: Date.now() - started,
    };
  };
  const close = async () => {
    s.app.server.closeAllConnections();
    await s.close();
  };
  return { s, store, base, call, close } satisfies BoundsSuite;
}

/** Long-polls GET /v1/tasks/{id} until the task is terminal. */
export async function finished(g: BoundsSuite, id: string, key: string): Promise<Json> {
  return until(async () => {
    const res = await g.call('GET', `/v1/tasks/${id}?wait=2`, key);
    const done = ['succeeded', 'failed', 'canceled'].includes(res.body.status as string);
    return done && res.body;
  }, `task ${id} to finish`);
}

/**
 * What the other tenant sees while one abuses: its create, read and list are answered, with
 * the right bodies, within `boundMs` each (generous: the machine is shared and loaded).
 */
export async function otherTenantServed(
  g: BoundsSuite,
  boundMs = 5000,
  extra: Json = {},
): Promise<Json> {
  const created = await g.call('POST', '/v1/text-to-image', KEY_B, {
    model: MODEL,
    prompt: 'tenant B is served',
    ...extra,
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const read = await g.call('GET', `/v1/tasks/${id}`, KEY_B);
  expect(read.status).toBe(200);
  const list = await g.call('GET', '/replicate/v1/predictions?page_size=5', KEY_B);
  expect(list.status).toBe(200);
  for (const answer of [created, read, list]) expect(answer.ms).toBeLessThan(boundMs);
  const done = await finished(g, id, KEY_B);
  expect(done.status).toBe('succeeded');
  return done;
}

/** Resident memory of this process (the app runs in it), MB. */
export const rssMb = () => process.memoryUsage().rss / 1024 / 1024;

/** A problem+json body with this status and code, and a detail a person can act on. */
export function expectProblem(a: Answer, status: number, code: string): void {
  expect(a.status).toBe(status);
  expect(a.contentType).toMatch(/^application\/problem\+json/);
  expect(a.body).toMatchObject({ status, code });
  expect(typeof a.body.detail).toBe('string');
}

export { until };
