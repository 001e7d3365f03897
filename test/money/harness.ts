import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { ProvidersConfig } from '../../src/config/config.js';
import type { TaskStore } from '../../src/domain/task-store.js';
import {
  startModelslabEmulator,
  type ModelslabEmulator,
} from '../../src/emulators/modelslab/server.js';
import {
  startPixverseEmulator,
  type PixverseEmulator,
} from '../../src/emulators/pixverse/server.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
} from '../../src/emulators/replicate/server.js';
import { createTaskStore } from '../../src/store/index.js';
import { buildTestApp, type TestApp } from '../helpers/test-app.js';

export const ADMIN_TOKEN = 'admin-token-money-suite-9f3b7c1e5a2d';
export const ML_KEY = 'ml-money-suite-key-2b8e4c6a1f9d3e7b';
export const PX_KEY = 'px-money-suite-key-6d1a9c3e7b5f2a8c';
export const R8_TOKEN = 'r8_money_suite_token_3e7a1c9b5d2f8e4a';
export const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';

export type Json = Record<string, unknown>;

export interface MoneySuite {
  t: TestApp;
  store: TaskStore;
  ml: ModelslabEmulator;
  px: PixverseEmulator;
  r8: ReplicateEmulator;
  inject(o: InjectOptions): Promise<LightMyRequestResponse>;
  /** An admin API request with ADMIN_TOKEN. */
  admin(
    method: InjectOptions['method'],
    url: string,
    payload?: unknown,
  ): Promise<LightMyRequestResponse>;
  /** Creates a tenant and a key for it (with `rules`); answers the key. */
  tenantKey(id: string, tenant?: Json, rules?: Json): Promise<string>;
  /** Upstream creates over the three emulators. */
  upstreamCreates(): number;
  waitDone(id: string, key: string): Promise<Json>;
  close(): Promise<void>;
}

export interface MoneySuiteOptions {
  /** The GATEWAY_CONFIG file's content (prices, tenants). */
  file?: Json;
  /** Default: a fresh memory store. */
  store?: TaskStore;
  env?: Record<string, string>;
  /**
   * Another suite whose emulators this one calls (instances of one cluster share their
   * upstreams: any instance may poll a job another one started). Closed by their own suite.
   */
  upstreamsOf?: MoneySuite;
}

/**
 * The real app over ModelsLab, PixVerse and Replicate emulators on loopback, with ADMIN_TOKEN
 * and a configuration file (prices, tenants) of the test's choosing.
 */
export async function startMoneySuite(options: MoneySuiteOptions = {}): Promise<MoneySuite> {
  const shared = options.upstreamsOf;
  const ml = shared?.ml ?? (await startModelslabEmulator({ apiKeys: [ML_KEY] }));
  const px =
    shared?.px ??
    (await startPixverseEmulator({ apiKeys: [PX_KEY], pollsUntilDone: 1, maxConcurrent: 200 }));
  const r8 =
    shared?.r8 ??
    (await startReplicateEmulator({ prefix: '/v1', tokens: [R8_TOKEN], timeScale: 0.01 }));
  const providers: ProvidersConfig = {
    modelslab: {
      baseUrl: ml.url,
      credentials: [{ id: 'modelslab-1', secret: ML_KEY, maxInFlight: 200 }],
      emulated: false,
      loadBalancer: true,
      videoPath: '/api/v1/enterprise/video/text2video',
    },
    pixverse: {
      baseUrl: px.baseUrl,
      credentials: [{ id: 'pixverse-1', secret: PX_KEY, maxInFlight: 200 }],
      emulated: false,
    },
    replicate: {
      baseUrl: r8.baseUrl,
      credentials: [{ id: 'replicate-1', secret: R8_TOKEN, maxInFlight: 200 }],
      emulated: true,
      models: [],
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'genway-money-'));
  const file = join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(options.file ?? {}));
  const store = options.store ?? createTaskStore('memory:');
  const t = await buildTestApp({
    providers,
    store,
    env: { ADMIN_TOKEN, GATEWAY_CONFIG: file, ...options.env },
  });
  const inject = (o: InjectOptions) => t.app.inject(o);
  const admin = (method: InjectOptions['method'], url: string, payload?: unknown) =>
    inject({
      method,
      url,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
    });
  return {
    t,
    store,
    ml,
    px,
    r8,
    inject,
    admin,
    async tenantKey(id, tenant = {}, rules = {}) {
      const created = await admin('POST', '/admin/tenants', { id, ...tenant });
      if (created.statusCode !== 201) throw new Error(`tenant ${id}: ${created.body}`);
      const key = await admin('POST', `/admin/tenants/${id}/keys`, rules);
      if (key.statusCode !== 201) throw new Error(`key of ${id}: ${key.body}`);
      return key.json<{ key: string }>().key;
    },
    upstreamCreates: () => ml.creates + px.creates + r8.creates,
    async waitDone(id, key) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const res = await inject({
          method: 'GET',
          url: `/v1/tasks/${id}?wait=2`,
          headers: { authorization: `Bearer ${key}` },
        });
        const task = res.json<Json>();
        if (['succeeded', 'failed', 'canceled'].includes(task.status as string)) return task;
        if (Date.now() > deadline) throw new Error(`task ${id} still ${String(task.status)}`);
      }
    },
    async close() {
      await t.close();
      if (!shared) await Promise.all([ml.close(), px.close(), r8.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
