import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import type { Config, ProvidersConfig } from '../../src/config/config.js';
import { loadConfig, secretsOf } from '../../src/config/load.js';

/** Gateway keys of two tenants (long enough for the config's 16-character rule). */
export const KEY_A = 'gw_test_tenant_a_0123456789abcdef';
export const KEY_B = 'gw_test_tenant_b_0123456789abcdef';

export const auth = (key = KEY_A) => ({ authorization: `Bearer ${key}` });

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  /** Every log line the app wrote, raw JSON text. */
  logs: string[];
  /** Every configured secret (upstream keys, gateway keys, webhook secret). */
  secrets: string[];
  close(): Promise<void>;
}

export interface TestAppOptions extends Omit<AppDeps, 'logStream' | 'providers'> {
  env?: Record<string, string>;
  /** Provider settings pointing at emulators; replaces whatever the env configured. */
  providers?: ProvidersConfig;
}

/**
 * The real app, not listening (use `app.inject`), with an in-memory store, fast polling, two
 * tenants, and its log lines captured for secret scans.
 */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const { env, providers, ...deps } = options;
  const base = loadConfig({
    GATEWAY_API_KEYS: `${KEY_A},${KEY_B}`,
    STORE_URL: 'memory:',
    POLL_INTERVAL_MS: '20',
    POLL_MAX_INTERVAL_MS: '200',
    LOG_LEVEL: 'info',
    ...env,
  });
  const config: Config = providers ? { ...base, providers, useEmulators: false } : base;
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const app = await buildApp(config, { ...deps, logStream });
  await app.ready();
  return { app, config, logs, secrets: secretsOf(config), close: () => app.close() };
}

/** Polls `GET /v1/tasks/:id` (long-poll) until the task is terminal or `timeoutMs` passes. */
export async function waitForTerminal(
  app: FastifyInstance,
  id: string,
  key = KEY_A,
  timeoutMs = 10_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await app.inject({
      method: 'GET',
      url: `/v1/tasks/${id}?wait=2`,
      headers: auth(key),
    });
    const task = res.json() as Record<string, unknown>;
    if (['succeeded', 'failed', 'canceled'].includes(task.status as string)) return task;
    if (Date.now() > deadline)
      throw new Error(`task ${id} still ${String(task.status)} after ${timeoutMs} ms`);
  }
}

/** Asserts that none of `secrets` occurs in any of `texts`; returns the offending snippets. */
export function findSecrets(texts: Iterable<string>, secrets: readonly string[]): string[] {
  const hits: string[] = [];
  for (const text of texts) {
    for (const s of secrets) {
      const at = text.indexOf(s);
      if (s && at !== -1) hits.push(`…${text.slice(Math.max(0, at - 40), at)}<SECRET>…`);
    }
  }
  return hits;
}
