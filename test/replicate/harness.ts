import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { ProvidersConfig } from '../../src/config/config.js';
import type { ReplicateSettings } from '../../src/providers/replicate/index.js';
import {
  startReplicateEmulator,
  type ReplicateEmulator,
  type ReplicateEmulatorOptions,
} from '../../src/emulators/replicate/server.js';
import {
  KEY_A,
  auth,
  buildTestApp,
  findSecrets,
  type TestApp,
  type TestAppOptions,
} from '../helpers/test-app.js';

/** The upstream token: long and distinctive, so a leak anywhere is found by a plain search. */
export const R8_TOKEN = 'r8_upstream_token_5c1e9a7b3d2f4e6a8b0c';
export const SD = 'ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
export const SD_REF = `stability-ai/stable-diffusion:${SD}`;
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
export const isMp4 = (body: Buffer) => body.subarray(4, 8).toString('ascii') === 'ftyp';

/** Where the emulator mounts the API: like api.replicate.com, and like the relay of seed 003. */
export const LAYOUTS = ['/v1', '/replicate/v1'] as const;

export type Json = Record<string, unknown>;

export interface ReplicateSuiteOptions {
  prefix?: string;
  emulator?: ReplicateEmulatorOptions;
  settings?: Partial<ReplicateSettings>;
  /** Other providers to configure beside replicate. */
  extraProviders?: ProvidersConfig;
  app?: Omit<TestAppOptions, 'providers'>;
}

export interface ReplicateSuite {
  emu: ReplicateEmulator;
  t: TestApp;
  app: FastifyInstance;
  /** Every response (headers and body) received through `inject`, for the secret scan. */
  captured: string[];
  inject(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** POST /v1/<operation> as tenant A unless told otherwise. */
  create(operation: string, body: Json, key?: string): Promise<LightMyRequestResponse>;
  /** Long-polls GET /v1/tasks/:id until terminal. */
  waitDone(id: string, key?: string, timeoutMs?: number): Promise<Json>;
  /** Secrets found in captured responses and log lines (expected: none). */
  leaks(): string[];
  close(): Promise<void>;
}

/**
 * The real app (buildTestApp: memory store, fast polling) with the replicate provider pointed
 * at a Replicate emulator on a loopback port. `timeScale: 0.01` by default, so the adapter's
 * `Prefer: wait=5` holds the emulator 50 ms and the prediction is then polled.
 */
export async function startReplicateSuite(
  opts: ReplicateSuiteOptions = {},
): Promise<ReplicateSuite> {
  const emu = await startReplicateEmulator({
    prefix: opts.prefix ?? '/v1',
    tokens: [R8_TOKEN],
    timeScale: 0.01,
    ...opts.emulator,
  });
  const replicate: ReplicateSettings = {
    baseUrl: emu.baseUrl,
    credentials: [{ id: 'replicate-1', secret: R8_TOKEN }],
    emulated: true,
    models: [],
    ...opts.settings,
  };
  const t = await buildTestApp({
    ...opts.app,
    providers: { ...opts.extraProviders, replicate },
  });
  const captured: string[] = [];
  const inject = async (o: InjectOptions) => {
    const res = await t.app.inject(o);
    captured.push(JSON.stringify(res.headers), res.body);
    return res;
  };
  return {
    emu,
    t,
    app: t.app,
    captured,
    inject,
    create: (operation, body, key = KEY_A) =>
      inject({ method: 'POST', url: `/v1/${operation}`, headers: auth(key), payload: body }),
    async waitDone(id, key = KEY_A, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await inject({
          method: 'GET',
          url: `/v1/tasks/${id}?wait=2`,
          headers: auth(key),
        });
        const task = res.json() as Json;
        if (['succeeded', 'failed', 'canceled'].includes(task.status as string)) return task;
        if (Date.now() > deadline) throw new Error(`task ${id} still ${String(task.status)}`);
      }
    },
    leaks: () => findSecrets([...captured, ...t.logs], [...t.secrets, R8_TOKEN]),
    async close() {
      await t.close();
      await emu.close();
    },
  };
}

/** Emulator calls of one kind, e.g. `calls(emu, 'POST', '/predictions')`. */
export function callsTo(emu: ReplicateEmulator, method: string, suffix: RegExp) {
  return emu.calls.filter((c) => c.method === method && suffix.test(c.path.split('?')[0] ?? ''));
}
