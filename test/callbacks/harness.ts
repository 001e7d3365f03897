import { createServer } from 'node:net';
import { request } from 'undici';
import type { ProvidersConfig } from '../../src/config/config.js';
import { tenantIdForKey } from '../../src/config/load.js';
import type { TaskRecord } from '../../src/domain/task-record.js';
import { KEY_A, auth, buildTestApp, type TestApp } from '../helpers/test-app.js';

export type Json = Record<string, unknown>;

export interface CallbackGateway {
  t: TestApp;
  /** `http://127.0.0.1:<port>`: where the gateway listens, and its PUBLIC_URL. */
  url: string;
  /** POST /v1/<operation> as tenant A; the created task. */
  create(operation: string, body: Json): Promise<Json>;
  /** The stored task record (upstream state, change history, next poll time). */
  record(id: string): Promise<TaskRecord>;
  /** Waits until the task is terminal (long-polls, no upstream call of its own). */
  waitTerminal(id: string, timeoutMs?: number): Promise<Json>;
  /** POSTs to the gateway over the network, as an upstream would. */
  post(
    path: string,
    body: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; type: string; text: string }>;
  close(): Promise<void>;
}

/** A port that was free a moment ago (PUBLIC_URL must be known before the app is built). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The real app, listening on 127.0.0.1 so that emulators can call it back, with PUBLIC_URL set
 * to that address. Polls every 60 s unless `env` says otherwise: a task that finishes within a
 * test finished by its callback, not by polling.
 */
export async function startCallbackGateway(
  providers: ProvidersConfig,
  env: Record<string, string> = {},
): Promise<CallbackGateway> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const t = await buildTestApp({
      providers,
      env: {
        PUBLIC_URL: url,
        POLL_INTERVAL_MS: '60000',
        POLL_MAX_INTERVAL_MS: '60000',
        ...env,
      },
    });
    try {
      await t.app.listen({ host: '127.0.0.1', port });
    } catch (err) {
      await t.close();
      if (attempt < 3) continue; // the port was taken in between
      throw err;
    }
    return gatewayOf(t, url);
  }
}

function gatewayOf(t: TestApp, url: string): CallbackGateway {
  const tenant = tenantIdForKey(KEY_A);
  return {
    t,
    url,
    async create(operation, body) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/v1/${operation}`,
        headers: auth(),
        payload: body,
      });
      if (res.statusCode !== 201 && res.statusCode !== 200) {
        throw new Error(`create answered ${res.statusCode}: ${res.body}`);
      }
      return res.json() as Json;
    },
    record: (id) => t.app.tasks.get(tenant, id),
    async waitTerminal(id, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/tasks/${id}?wait=1`,
          headers: auth(),
        });
        const task = res.json() as Json;
        if (['succeeded', 'failed', 'canceled'].includes(String(task.status))) return task;
        if (Date.now() > deadline) {
          throw new Error(`task ${id} still ${String(task.status)} after ${timeoutMs} ms`);
        }
      }
    },
    async post(path, body, headers = {}) {
      const res = await request(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      return {
        status: res.statusCode,
        type: String(res.headers['content-type'] ?? ''),
        text: await res.body.text(),
      };
    },
    close: () => t.close(),
  };
}

/** Resolves once `check` holds, or fails after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What a task looks like to its owner (for "nothing changed" checks). */
export const visible = (r: TaskRecord) => ({
  status: r.status,
  progress: r.progress,
  outputs: r.outputs,
  error: r.error,
  upstreamId: r.upstreamId,
  upstreamStatus: r.upstreamStatus,
  updatedAt: r.updatedAt,
  changeSeq: r.changeSeq,
});
